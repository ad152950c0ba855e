"""e2e: the live view's model against a real server holding thousands of promises stays cheap."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.supervisor.client import TopologyStatus
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from resonate_rpc_cli.view.live import Dashboard
from tests.e2e._view_load import populate
from tests.procs import ProcGroup, free_port, start_server

pytestmark = pytest.mark.e2e


def test_refreshing_with_thousands_of_promises_costs_little_cpu(
        procs: ProcGroup, tmp_path: Path) -> None:
    port = free_port()
    url, _server = start_server(procs, tmp_path, "--memory", port=port)
    populate(url, settled=3000, pending=150)
    config = TopologyConfig(server_port=port, gateway_port=free_port())

    def fake_supervisor(home: Home, since: int) -> TopologyStatus:
        return TopologyStatus.from_dict({"supervisor_pid": 1, "config": config.to_json(),
                                         "events": [], "nodes": [], "all_ready": True,
                                         "shutting_down": False})

    board = LiveModel(Home(tmp_path), status=fake_supervisor)
    cpu0, wall0 = time.process_time(), time.monotonic()
    refreshes = 0
    while time.monotonic() - wall0 < 3.0:  # what run_live does: refresh + render, 4 per s
        board.refresh()
        Dashboard(board).render()
        refreshes += 1
        time.sleep(0.25)
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - wall0
    assert board.notice is None, board.notice
    assert board.counts.get("resolved") == 3000, board.counts
    assert board.counts.get("pending") == 151, board.counts
    # the flow's static root is always shown; of the many pending roots only a few
    assert "await-chain" in board.trees, list(board.trees)
    assert len(board.trees) == 4, list(board.trees)
    assert all(len(rows) <= 30 for rows in board.trees.values())
    share = cpu / wall
    print(f"live view: {refreshes} refreshes in {wall:.1f}s, {cpu * 1000:.0f} ms CPU "
          f"({share:.1%} of a core)")
    assert share < 0.35, f"live view used {share:.1%} of a core"
