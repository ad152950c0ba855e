"""The two declared examples end to end (issue 19): examples/own-app (an order saga on the
public SDK, knowing nothing of rpcdemo) and examples/polyglot (the seed with service-h/-i
in TypeScript, as data).

For each: ``up --config`` brings it up; every flow answers right (its ``expect``, or the
same value twice); ``kill --respawn`` of a node while it holds a flow's task still gives
the right answer; ``chaos --config … --duration 30 --faults kill,pause,partition --seed 3``
passes with 0 lost and 0 wrong and names the checks that applied; ``down`` leaves nothing.

The example's file is copied with free ports and absolute folders (and longer steps, so
the kill lands mid-step), so runs never collide.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.cli.topology_file import load_config_file
from resonate_rpc_cli.clients.app_flows import fill_id
from resonate_rpc_cli.contracts.app_topology import AppTopology
from tests.e2e._cli_support import Cli, assert_nothing_left, end_leftovers, new_cli
from tests.procs import short_home, wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: per example: the flow the kill test runs, and the group whose node it kills mid-step
KILL = {"own-app": ("place-order", "payments"), "polyglot": ("await-chain", "service-b")}
APPLIED = {"lost", "wrong", "stuck", "two_live_leases", "settled_promise_changed",
           "reexecuted_steps"}


def prepared(example: str, folder: Path, gateway_port: int) -> Path:
    """The example's topology file with its gateway on ``gateway_port``, absolute ``cwd``
    and 1.5 s steps."""
    text = (EXAMPLES / example / "rpcdemo.toml").read_text(encoding="utf-8")
    if example == "own-app":
        text = re.sub(r"^\[groups\.([\w-]+)\]$",
                      lambda m: f'{m.group(0)}\ncwd = "{EXAMPLES / example}"', text,
                      flags=re.MULTILINE)
        text = text.replace('SAGA_STEP_SECONDS = "0.5"', 'SAGA_STEP_SECONDS = "1.5"')
    else:
        text = text.replace('cwd = "../.."', f'cwd = "{ROOT}"').replace(
            "5000", str(gateway_port)).replace('RPCDEMO_STEP_DELAY = "0.3"',
                                              'RPCDEMO_STEP_DELAY = "1.5"')
    path = folder / "rpcdemo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_flow(cli: Cli, flow: str) -> Any:
    proc = cli.run("run", flow, "--json", timeout=90)
    assert proc.returncode == 0, (flow, proc.stdout, proc.stderr)
    return unfilled(json.loads(proc.stdout))


def unfilled(outcome: dict[str, Any]) -> Any:
    """The value with the run's own promise id put back to ``{id}`` (an HTTP flow's
    answer echoes it; its ``expect`` says ``{id}``)."""
    pid = outcome.get("promise_id")
    return fill_id(outcome["value"], pid, back=True) if pid else outcome["value"]


def kill_mid_step(cli: Cli, flow: str, group: str, want: Any) -> None:
    """Run ``flow``; once a node of ``group`` holds one of its tasks, kill it and respawn;
    the flow still answers ``want``."""
    running = subprocess.Popen(cli.argv("run", flow, "--json"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    try:
        holder = wait_until(lambda: next((n["name"] for n in cli.json("status")["nodes"]
                                          if n["group"] == group and n["tasks"]), None),
                            60.0, f"a node of {group} holding a task", interval=0.1)
        killed = cli.run("kill", str(holder), "--respawn")
        assert killed.returncode == 0, killed.stderr
        out, err = running.communicate(timeout=90)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    assert running.returncode == 0, (out, err)
    assert unfilled(json.loads(out)) == want


@pytest.mark.parametrize("example", ["own-app", "polyglot"])
def test_a_declared_example_comes_up_answers_survives_kills_and_chaos(example: str) -> None:
    with short_home() as home:
        cli = new_cli(home)
        config = prepared(example, home.parent, cli.gateway_port)
        app = load_config_file(config).app
        assert isinstance(app, AppTopology)
        try:
            up = cli.run("--config", str(config), *cli.up_args("--detach"), timeout=180)
            assert up.returncode == 0, up.stderr
            for flow in app.flows:
                value = run_flow(cli, flow.name)
                assert value == (flow.expect if flow.has_expect
                                 else run_flow(cli, flow.name)), flow.name
            flow_name, group = KILL[example]
            spec = app.flow(flow_name)
            assert spec is not None
            kill_mid_step(cli, flow_name, group, spec.expect)
            _chaos_passes(cli, config, home.parent / "report")
        finally:
            cli.run("down", timeout=60)
            left = end_leftovers(home)
            assert not left, left
        assert_nothing_left(home)


def _chaos_passes(cli: Cli, config: Path, report_dir: Path) -> None:
    proc = cli.run("chaos", "--config", str(config), "--duration", "30", "--faults",
                   "kill,pause,partition", "--seed", "3", "--report", str(report_dir),
                   "--json", timeout=400)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, (report["verdict"], report["reasons"], proc.stderr[-2000:])
    assert report["flows"]["lost"] == 0 and report["flows"]["wrong"] == 0
    applied = {c["name"] for c in report["checks"] if c["applied"]}
    assert applied == APPLIED, report["checks"]
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "<h2>Checks</h2>" in page and "against the fault-free baseline" in page
