"""gather(): facts from a (faked) supervisor, server, ledger and log; a blind server is exit 3."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.clients import jsonline
from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import LedgerEntry, LedgerWriter
from resonate_rpc_cli.observe import gather as gather_mod
from resonate_rpc_cli.observe.doctor import diagnose
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig


def rec(pid: str, func: str, group: str, parent: str | None = None) -> dict[str, Any]:
    data = base64.b64encode(json.dumps({"func": func, "args": [1]}).encode()).decode()
    tags = {"resonate:origin": "f", "resonate:target": f"poll://any@{group}"}
    if parent:
        tags["resonate:parent"] = parent
    return {"id": pid, "state": "pending", "param": {"data": data}, "tags": tags,
            "createdAt": 1_000, "timeoutAt": 10**15}


class FakeClient:
    def __init__(self, searchable: bool) -> None:
        self.searchable = searchable

    def healthy(self) -> bool:
        return True

    def task_search(self, state: str | None = None) -> list[dict[str, Any]]:
        if state != "acquired":
            return []
        return [{"id": "f:1", "state": "acquired", "version": 0, "pid": "id-f", "ttl": 5000}]

    def promise_get(self, promise_id: str) -> dict[str, Any] | None:
        return None


class FakeSource:
    searchable = True

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        self.client = FakeClient(self.searchable)
        self.notice: str | None = None
        self.search_supported = True

    def search(self, state: str | None = None, tags: dict[str, str] | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
        if not self.searchable:
            self.search_supported = False
            self.notice = "the server does not offer promise.search (501: no)"
            return []
        return [rec("f", "qux", "service-d"), rec("f:1", "cog", "service-f", "f")]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    home = Home(tmp_path)
    log = tmp_path / "service-f-1.1.log"
    log.write_text("12:00 ready\n12:01 service-f-1 cog(1) failed: InjectedFailure: boom\n"
                   "12:02 heartbeat ok\n")
    writer = LedgerWriter(home.ledger_dir, "service-f-1", "id-f")
    for ts in (1.0, 2.0, 4.0):
        writer.append(LedgerEntry(ts, "start", "service-f-1", "id-f", 1, "service-f", "cog",
                                  "f:1", "f:1.1", 1))
    writer.close()
    config = TopologyConfig(ttl_s=7.0, links=False)
    nodes = [{"name": "service-f-1", "group": "service-f", "state": "ready", "pid": 9,
              "node_id": "id-f", "past_node_ids": [], "log": str(log)}]
    status = {"supervisor_pid": 1, "config": config.to_json(), "nodes": nodes,
              "all_ready": True, "shutting_down": False, "events": [], "targets": []}
    monkeypatch.setattr(jsonline, "call", lambda h, op, **kw: status)
    monkeypatch.setattr(gather_mod, "PromiseSource", FakeSource)
    return home


def test_gather_reads_leases_ledger_attempts_and_the_log_line(home: Home) -> None:
    found = gather_mod.gather(home)
    f = found.facts
    assert f.stuck_after_s == 7.0 and f.links is None
    assert f.attempts is not None and f.attempts["f:1"].starts == 3
    assert f.errors["service-f-1"][1].endswith("InjectedFailure: boom")
    assert any("lease expiry" in n for n in found.notices)
    d = diagnose(f)[0]
    assert d.cause.kind == "failing" and "attempted 3 times" in d.line()


def test_a_server_without_promise_search_cannot_be_diagnosed(home: Home,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setattr(FakeSource, "searchable", False)
    with pytest.raises(NotRunningError, match=r"without promise\.search"):
        gather_mod.gather(home)
