"""The pure parts of the TypeScript nodes (services/ts), checked against their Python twins.

The oracle, the environment contract and the ledger line must be the Python nodes'
exactly, or the checker would misjudge a TypeScript node. Each test runs a few lines
of JavaScript in the venv's Node (a real process: this is the e2e tier, as the unit tier
starts none) and compares what they print with Python's answer.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.contracts.flows import STEP_VALUES
from resonate_rpc_cli.contracts.ledger import LedgerEntry, read_ledger
from resonate_rpc_cli.supervisor import variants

NODE = variants.node_binary()
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(NODE is None, reason="no Node in this environment")]


def node_eval(script: str, env: dict[str, str] | None = None) -> Any:
    """Run ``script`` (an ES module in services/ts) and parse the JSON it prints."""
    proc = subprocess.run([str(NODE), "--input-type=module", "-e", script],
                          cwd=variants.ts_dir(), capture_output=True, text=True,
                          timeout=30, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_oracle_is_the_python_one() -> None:
    args = list(range(-3, 12))
    got = node_eval(
        'import { STEP_VALUES } from "./config.mjs";'
        f"const args = {json.dumps(args)};"
        "console.log(JSON.stringify(Object.fromEntries(Object.entries(STEP_VALUES)"
        ".map(([f, v]) => [f, args.map(v)]))));")
    assert got == {func: [value(n) for n in args] for func, value in STEP_VALUES.items()}


def test_config_reads_the_node_contract_and_names_a_bad_variable() -> None:
    script = (
        'import { readConfig } from "./config.mjs";'
        "const out = [];"
        "for (const env of JSON.parse(process.argv[1])) {"
        '  try { out.push(readConfig("service-h", env)); }'
        "  catch (e) { out.push({ error: e.message }); } }"
        "console.log(JSON.stringify(out));")
    cases = [
        {"RESONATE_URL": "http://127.0.0.1:9/", "RPCDEMO_NODE_NAME": "service-h-2",
         "RPCDEMO_NODE_ID": "abc", "RPCDEMO_LEDGER_DIR": "/tmp/l", "RPCDEMO_TTL": "2.5",
         "RPCDEMO_STEP_DELAY": "0.2", "RPCDEMO_DELAY_MODE": "sleep",
         "RPCDEMO_FAIL_ALWAYS": "service-c, service-h"},
        {"RPCDEMO_TTL": "0"},
        {"RPCDEMO_DELAY_MODE": "nap"},
        {"RESONATE_URL": "postgresql://db/app"},
        {"RPCDEMO_NODE_ID": "a:b"},
    ]
    proc = subprocess.run([str(NODE), "--input-type=module", "-e", script, json.dumps(cases)],
                          cwd=variants.ts_dir(), capture_output=True, text=True, timeout=30,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    ok, *errors = json.loads(proc.stdout)
    assert ok == {"url": "http://127.0.0.1:9", "group": "service-h", "name": "service-h-2",
                  "nodeId": "abc", "ledgerDir": "/tmp/l", "ttlMs": 2500, "stepDelayMs": 200,
                  "delayMode": "sleep", "failFirst": False, "failAlways": True}
    assert [e["error"].split(" ")[0] for e in errors] == [
        "RPCDEMO_TTL", "RPCDEMO_DELAY_MODE", "RESONATE_URL", "RPCDEMO_NODE_ID"]


def test_a_ledger_line_is_the_python_line_byte_for_byte(tmp_path: Path) -> None:
    node_eval(
        'import { LedgerWriter } from "./node.mjs";'
        f"const w = new LedgerWriter({json.dumps(str(tmp_path))}, 'service-h-1', 'n1');"
        "w.append({ ts: 1.5, phase: 'end', node: 'service-h-1', node_id: 'n1', os_pid: 7,"
        "  group: 'service-h', func: 'rax', promise_id: 'p', step_id: 'p.0', arg: 5,"
        "  value: 6 });"
        "console.log('{}');")
    path = tmp_path / "service-h-1.n1.jsonl"
    line = path.read_text().splitlines()
    entries = list(read_ledger(tmp_path))
    assert entries == [LedgerEntry(ts=1.5, phase="end", node="service-h-1", node_id="n1",
                                   os_pid=7, group="service-h", func="rax", promise_id="p",
                                   step_id="p.0", arg=5, value=6)]
    assert line == [entries[0].to_json()]
