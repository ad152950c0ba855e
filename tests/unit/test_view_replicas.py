"""The live view shows each replica and the task it holds (holders from task.search)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.supervisor.client import TopologyStatus
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from resonate_rpc_cli.view.live import Dashboard


class FakeClient:
    url = "http://db:8001"

    def promise_get(self, promise_id: str) -> dict[str, Any] | None:
        return None

    def task_search(self, state: str | None = None) -> list[dict[str, Any]]:
        """Two replicas of service-b hold one task each; a dead incarnation a third."""
        held = {"flow-1:1": "id-b2", "flow-2:1": "id-b3", "flow-3:1": "id-old"}
        return [{"id": t, "state": "acquired", "pid": pid, "version": 1}
                for t, pid in held.items()] if state == "acquired" else []


class FakeSource:
    """No promise is known; the tasks come from task.search."""

    notice: str | None = None
    client = FakeClient()

    def search(self, state: str | None = None, tags: dict[str, str] | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
        return []

    def counts_are_cheap(self) -> bool:
        return False

    def counts(self, limit: int = 10_000) -> dict[str, int]:
        return {"pending": 3}


def node(name: str, node_id: str) -> NodeRow:
    return NodeRow(name, "service-b", 10, "ready", uptime_s=1.0, node_id=node_id)


def test_each_replica_row_shows_the_task_it_holds(tmp_path: Path) -> None:
    config = TopologyConfig(server_kind="external", server_url="http://db:8001",
                            only=["service-b"], replicas={"service-b": 3})
    nodes = [node("service-b-1", "id-b1"), node("service-b-2", "id-b2"),
             node("service-b-3", "id-b3")]

    def status(home: Home, since: int) -> TopologyStatus:
        return TopologyStatus(1, config, nodes, True, False, [], [],
                              raw={"supervisor_pid": 1, "config": config.to_json(), "nodes": [],
                                   "all_ready": True, "shutting_down": False})

    board = LiveModel(Home(tmp_path), status=status, clock=lambda: 0.0)
    board.config = config
    board.source = FakeSource()  # type: ignore[assignment]
    board.refresh()
    rows = {n.row.name: n.task for n in board.nodes_with_tasks()}
    assert rows == {"service-b-1": None, "service-b-2": "flow-1:1", "service-b-3": "flow-2:1"}
    console = Console(record=True, width=160, color_system=None)
    console.print(Dashboard(board).render())
    text = console.export_text()
    assert "http://db:8001 (external)" in text and "gateway elsewhere" in text
    line = next(ln for ln in text.splitlines() if "service-b-3" in ln)
    assert "flow-2:1" in line, text
