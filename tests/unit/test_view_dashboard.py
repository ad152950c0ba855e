"""The live view's model with a fake supervisor: bounded polling, feed, degraded server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.live import Every, LiveModel
from resonate_rpc_cli.observe.snapshot import PromiseSource
from resonate_rpc_cli.supervisor.client import TopologyStatus
from resonate_rpc_cli.supervisor.events import EventJson
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from resonate_rpc_cli.view.live import Dashboard
from tests.procs import free_port


class FakeSupervisor:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.config = TopologyConfig(server_port=free_port(), gateway_port=free_port())

    def __call__(self, home: Home, since: int) -> TopologyStatus:
        self.calls.append({"since": since})
        events: list[EventJson] = [{"seq": 1, "ts": 0.0, "kind": "killed", "node": "service-b-1",
                                    "pid": 7, "node_id": None, "detail": "SIGKILL"}
                                   ] if since < 1 else []
        return TopologyStatus.from_dict({
            "supervisor_pid": 1, "config": self.config.to_json(), "events": events,
            "all_ready": False, "shutting_down": False,
            "nodes": [{"name": "service-b-1", "group": "service-b", "pid": None,
                       "state": "killed", "restarts": 0, "uptime_s": None, "node_id": "n1"}]})


def test_every_limits_the_rate() -> None:
    every = Every(0.5)
    fired = [every.due(t / 10) for t in range(20)]
    assert sum(fired) == 4 and fired[0]


def test_dashboard_polls_at_bounded_rates_and_keeps_a_feed(tmp_path: Path) -> None:
    fake = FakeSupervisor()
    now = [0.0]
    board = LiveModel(Home(tmp_path), status=fake, clock=lambda: now[0])
    for _ in range(20):  # two seconds of refreshes every 0.1 s
        board.refresh()
        now[0] += 0.1
    assert len(fake.calls) == 4, fake.calls
    assert fake.calls[1]["since"] == 1  # asks only for new events
    assert len(board.feed) == 1 and "killed" in board.feed[0] and "service-b-1" in board.feed[0]
    # nothing listens on the server port: a notice, not an exception
    assert board.notice is not None and "not answering" in board.notice
    console = Console(record=True, width=140, color_system=None)
    console.print(Dashboard(board).render())
    out = console.export_text()
    assert "processes" in out and "service-b-1" in out and "not answering" in out


def test_counts_come_from_one_info_request_on_our_server() -> None:
    """On the embedded server the counts are one /rpcdemo/info call, not a search per state."""
    class InfoClient:
        def __init__(self) -> None:
            self.info_calls = 0

        def info(self) -> dict[str, object]:
            self.info_calls += 1
            return {"kind": "embedded", "promise_states": {"pending": 2, "resolved": 7}}

        def promise_search(self, **_: object) -> list[object]:
            raise AssertionError("counts must not search on our server")

    source = PromiseSource("http://127.0.0.1:9")
    client = InfoClient()
    source.client = client  # type: ignore[assignment]
    assert source.counts_are_cheap()
    counts = source.counts()
    assert counts["pending"] == 2 and counts["resolved"] == 7 and counts["rejected"] == 0
    assert client.info_calls == 2  # once to learn it is ours, once for the counts


def test_status_counts_reuse_the_info_it_already_fetched() -> None:
    """`status` asks /rpcdemo/info once per answer: the counts take the summary's copy."""
    class InfoClient:
        def __init__(self) -> None:
            self.info_calls = 0

        def info(self) -> dict[str, object]:
            self.info_calls += 1
            return {"kind": "embedded", "promise_states": {"pending": 1}}

    source = PromiseSource("http://127.0.0.1:9")
    client = InfoClient()
    source.client = client  # type: ignore[assignment]
    info = source.info()
    assert source.counts(info=info)["pending"] == 1
    assert client.info_calls == 1
