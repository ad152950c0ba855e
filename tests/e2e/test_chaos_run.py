"""Chaos runs against real topologies: the seed's claims hold under kills, pauses,
gateway kills and a server kill on the durable store.

Small enough for CI: ~20 flows, a short lease (2 s) and a step delay so faults
land mid-step. Each run's report must say: 0 lost, 0 wrong, 0 re-executed after
settle, every cog ran, nothing pending, no orphans.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.chaos.options import ChaosOptions
from resonate_rpc_cli.chaos.session import run_chaos
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor import updown
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from tests.e2e._cli_support import assert_nothing_left, end_leftovers, short_home
from tests.procs import free_port, processes_of_home
from tests.unit._chaos_cli import invoke

pytestmark = pytest.mark.e2e


def assert_proved(report: Mapping[str, Any]) -> None:
    """The claims of the seed, with the report as the message when one fails."""
    summary = json.dumps({k: report.get(k) for k in (
        "verdict", "reasons", "flows", "detached", "steps", "faults", "pending_after_heal",
        "orphans", "problems", "fault_log")}, indent=1)
    assert report["verdict"] == "pass", summary
    flows = report["flows"]
    assert flows["lost"] == 0 and flows["wrong"] == 0 and flows["failed"] == 0, summary
    assert flows["completed"] == flows["attempted"], summary
    assert report["steps"]["reexecuted_after_settle"] == 0, summary
    assert report["detached"]["cog_ran"] == report["detached"]["started"] > 0, summary
    assert report["pending_after_heal"] == 0 and report["orphans"] == 0, summary


@pytest.fixture
def home() -> Iterator[Path]:
    with short_home() as path:
        yield path


def test_kills_pauses_and_a_gateway_kill_lose_nothing(home: Path, tmp_path: Path) -> None:
    """Nothing runs under HOME: chaos starts its own topology, breaks it, tears it down."""
    report_dir = tmp_path / "report"
    code, out, err = invoke(
        "--home", str(home), "chaos", "--flows", "20", "--concurrency", "3",
        "--faults", "kill,pause,gateway", "--interval", "0.4:1.2", "--down", "0.3:1",
        "--seed", "3", "--fault-count", "7", "--deadline", "60", "--ttl", "2",
        "--step-delay", "0.5", "--report", str(report_dir), "--json",
    )
    report = json.loads(out) if out.strip().startswith("{") else {}
    assert code == 0, (code, err[-3000:], out[-3000:])
    assert_proved(report)
    faults = report["faults"]
    assert faults["landed"] >= 3 and faults["by_kind"].get("gateway", 0) >= 1, faults
    assert faults["by_kind"].get("kill", 0) >= 1 and faults["by_kind"].get("pause", 0) >= 1
    assert faults["mid_step"] >= 1, report["fault_log"]  # the nemesis prefers busy nodes
    assert report["orphans_checked"] is True
    own_home = Path(report["run"]["own_home"])
    assert not own_home.exists() and not processes_of_home(own_home)
    assert not home.exists(), "chaos must not create a topology under the user's HOME"
    # the report dir holds the machine-readable report, the history and the fault log
    assert json.loads((report_dir / "report.json").read_text())["verdict"] == "pass"
    history = [json.loads(line) for line in (report_dir / "history.jsonl").read_text().splitlines()]
    issued = {op["promise_id"] for op in history}
    assert len(issued) == report["run"]["flows_issued"] >= 20  # --flows is a minimum
    fault_lines = (report_dir / "faults.jsonl").read_text().splitlines()
    assert len(fault_lines) == len(report["fault_log"])
    assert "chaos: wrote" in err


def test_server_kill_on_the_durable_store_loses_nothing(home: Path) -> None:
    """Against a topology `up` started: server and node kills; the store keeps every promise."""
    config = TopologyConfig(server_port=free_port(), gateway_port=free_port(), ttl_s=2.0,
                            step_delay_s=0.3)
    h = Home(home)
    daemon = None
    try:
        daemon = updown.up(h, config, detach=True, timeout_s=60).daemon
        options = ChaosOptions(
            flows=18, concurrency=3, faults=("server", "kill"), interval_s=(0.5, 1.2),
            down_s=(0.3, 0.8), seed=21, deadline_s=40, fault_count=5, settle_min_s=40,
        )
        result = run_chaos(options, h)
        report = result.report
        assert_proved(report)
        assert report["faults"]["by_kind"].get("server", 0) >= 1, report["faults"]
        assert report["faults"]["landed"] >= 3, report["faults"]
        assert report["orphans_checked"] is False
        # the topology is still ours to use: every node healed and ready
        status = json.dumps(SupervisorClient(h).status().raw)
        assert all(n["state"] == "ready" for n in json.loads(status)["nodes"]), status
    finally:
        updown.down(h)
        if daemon is not None:
            daemon.wait(15)
        left = end_leftovers(home)
        assert not left, left
    assert_nothing_left(home)
