"""The browser console's pure parts: the token, the action bodies, the document, the chaos
feed, the page, and the HTTP guard (an in-process aiohttp server, no topology: its feed
finds nothing running and says so)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient, TestServer

from resonate_rpc_cli.chaos.history import FaultRecord, History
from resonate_rpc_cli.chaos.report import ChaosReport, RunProgress, progress_path, publish_verdict
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.observe.leases import TaskRow
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.observe.snapshot import PromiseRow
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from resonate_rpc_cli.web.actions import ActionCall, ActionError, Actor, parse_action
from resonate_rpc_cli.web.app import make_app
from resonate_rpc_cli.web.chaos_feed import ChaosFeed, LedgerTail
from resonate_rpc_cli.web.document import console_document
from resonate_rpc_cli.web.feed import Feed, Published
from resonate_rpc_cli.web.page import render_page
from resonate_rpc_cli.web.serve import console_url
from resonate_rpc_cli.web.token import console_token, token_matches, token_path

T0 = 1_700_000_000_000


def test_the_token_is_made_once_per_home_and_kept_0600(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    first = console_token(home)
    assert len(first) >= 30 and console_token(home) == first
    assert stat.S_IMODE(os.stat(token_path(home)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(token_path(home).parent).st_mode) == 0o700
    assert console_token(Home(tmp_path / "other")) != first
    assert token_matches(first, first)
    assert not token_matches(first, None) and not token_matches(first, "")
    assert not token_matches(first, first[:-1])
    token_path(home).write_text("short")
    with pytest.raises(UsageError, match="too short"):
        console_token(home)


def test_the_url_carries_the_token() -> None:
    assert console_url("127.0.0.1", 8123, "a+b") == "http://127.0.0.1:8123/?token=a%2Bb"
    assert console_url("::1", 80, "t").startswith("http://[::1]:80/")


@pytest.mark.parametrize(("body", "error"), [
    ([], "JSON object"),
    ({"action": "explode", "target": "x"}, "unknown action"),
    ({"action": "kill"}, "needs a target"),
    ({"action": "kill", "target": ""}, "needs a target"),
    ({"action": "scale", "target": "service-a", "value": 3}, "must be a string"),
])
def test_bad_action_bodies_are_refused_in_one_line(body: Any, error: str) -> None:
    with pytest.raises(ActionError, match=error) as info:
        parse_action(body)
    assert info.value.status == 400


def test_an_action_body_names_an_action_of_the_core() -> None:
    call = parse_action({"action": "resolve", "target": "p1", "value": '{"ok": true}'})
    assert call == ActionCall("resolve", "p1", '{"ok": true}')


def test_a_refused_action_keeps_the_cores_message(tmp_path: Path) -> None:
    """Nothing runs under this HOME: the core refuses (exit 3) and the page gets 503."""
    with pytest.raises(ActionError) as info:
        Actor(Home(tmp_path)).perform(ActionCall("kill", "service-b-1"))
    assert info.value.status == 503 and "\n" not in str(info.value)
    with pytest.raises(ActionError) as bad:
        Actor(Home(tmp_path)).perform(ActionCall("resolve", "p1", "{nope"))
    assert bad.value.status == 400


def _model(tmp_path: Path) -> LiveModel:
    model = LiveModel(Home(tmp_path))
    model.config = TopologyConfig(server_port=18001, gateway_port=18002, links=True)
    model.nodes = [NodeRow("gateway", "gateway", 10, "ready"),
                   NodeRow("service-h-1", "service-h", 11, "ready", restarts=2),
                   NodeRow("service-h-2", "service-h", None, "killed"),
                   NodeRow("service-h-3", "service-h", 12, "stopping", retiring=True)]
    model.held = {"service-h-1": ["fan-out-workflow:1"]}
    model.tasks = [TaskRow("fan-out-workflow:1", "rax", "acquired", "service-h-1", "n1", 2.5, 1,
                           0.1, False, None)]
    root = PromiseRow("fan-out-workflow", "pending", "zim", [5], None, None,
                      "fan-out-workflow", T0, None)
    child = PromiseRow("fan-out-workflow:1", "pending", "rax", [5], None, "fan-out-workflow",
                       "fan-out-workflow", T0 + 1, None, holder="service-h-1")
    done = PromiseRow("fan-out-workflow:2", "resolved", "dop", [5], 10, "fan-out-workflow",
                      "fan-out-workflow", T0 + 2, T0 + 3)
    model.trees = {"fan-out-workflow": [root, child, done]}
    model.flags = {"fan-out-workflow:1": "lease lapsing"}
    return model


def test_the_document_is_the_live_models_picture_with_the_cores_actions(tmp_path: Path) -> None:
    doc = console_document(_model(tmp_path), now_ms=T0).to_dict()
    json.dumps(doc)  # all JSON
    assert [n["name"] for n in doc["nodes"]] == ["gateway", "service-h-1", "service-h-2",
                                                 "service-h-3"]
    holder = doc["nodes"][1]
    assert holder["tasks"] == [{"id": "fan-out-workflow:1", "lease_left_s": 2.5}]
    assert holder["restarts"] == 2 and doc["at_ms"] == T0
    assert {a["name"] for a in holder["actions"]} >= {"kill", "kill-respawn", "pause"}
    assert [a["name"] for a in doc["nodes"][2]["actions"]] == ["respawn"]
    groups = {g["group"]: g for g in doc["groups"]}
    assert groups["service-h"]["count"] == 2  # the retiring node is not counted
    assert "scale-up" in {a["name"] for a in groups["service-h"]["actions"]}
    assert groups["gateway"]["actions"] == []
    (flow,) = doc["flows"]
    promises = {p["id"]: p for p in flow["promises"]}
    assert promises["fan-out-workflow:1"]["holder"] == "service-h-1"
    assert promises["fan-out-workflow:1"]["flag"] == "lease lapsing"
    assert {a["name"] for a in promises["fan-out-workflow:1"]["actions"]} == {
        "resolve", "reject", "cancel"}
    assert promises["fan-out-workflow:2"]["actions"] == []  # settled: nothing to do
    assert {a["name"] for a in flow["actions"]} == {"run", "cancel-flow"}
    assert [f["name"] for f in doc["runnable"]] == ["await-chain", "detached-chain", "fan-out"]


def test_published_parts_change_version_only_when_their_content_does() -> None:
    part = Published()
    assert part.offer("a", '{"at": 1}') and part.version == 1
    assert not part.offer("a", '{"at": 2}') and part.json == '{"at": 1}'
    assert part.offer("b", "{}") and part.version == 2


def _fault(index: int, at: int, healed: int | None) -> FaultRecord:
    return FaultRecord(index=index, kind="kill", target="service-b-1", group="service-b",
                       planned_at_s=0.0, down_s=1.0, at_ms=at, landed=True, healed_ms=healed,
                       targets=["service-b-1"])


def test_the_chaos_feed_draws_the_reports_timeline_as_the_run_goes(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.ensure()
    history = History()
    faults: list[FaultRecord] = []
    progress = RunProgress(progress_path(home), "t1", T0, history, lambda: list(faults),
                           period_s=60)
    feed = ChaosFeed(home)
    assert feed.read() is None  # no run yet
    history.record("invoke", 0, "await-chain", "await-chain-t1-0", 1, time_ms=T0)
    progress.start()
    try:
        first = feed.read()
        assert first is not None and first["state"] == "running" and first["verdict"] is None
        assert first["ops_total"] == 1
        history.record("ok", 0, "await-chain", "await-chain-t1-0", 1, value=3, time_ms=T0 + 40)
        faults.append(_fault(0, T0 + 10, T0 + 30))
    finally:
        progress.stop()
    later = feed.read()
    assert later is not None and later["state"] == "checking" and later["faults"] == 1
    model = later["model"]
    assert len(model["bands"]) == 1 and len(model["latency"]) == 1
    assert [lane["id"] for lane in model["lanes"]][-1] == "worker-0"
    # another run's: ignored
    publish_verdict(home, "other-run", cast("ChaosReport", {"verdict": "fail"}))
    publish_verdict(home, "t1", cast("ChaosReport", {"verdict": "pass", "reasons": []}))
    done = feed.read()
    assert done is not None and (done["state"], done["verdict"]) == ("done", "pass")
    progress_path(home).write_text("{torn")
    assert feed.read() == done  # a torn file keeps the last picture


def test_the_page_loads_nothing_from_elsewhere() -> None:
    page = render_page("n0nce", '{"home": "</script><script>alert(1)</script>"}')
    assert page.count('nonce="n0nce"') == 2
    for marker in ("src=", "@import", "url(", "//cdn", "https:"):
        assert marker not in page, marker
    # the one URL in it is the SVG namespace, a name the browser never fetches
    assert set(re.findall(r"http://[^'\"]*", page)) == {"http://www.w3.org/2000/svg"}
    assert re.findall(r'href="([^"]*)"', page) == ["data:,"]  # no favicon request either
    assert "new EventSource('/events?token='" in page
    # the embedded first state cannot end its script element early
    assert "<script><" not in page and "\\u003c/script\\u003e" in page


async def _exchange(home: Home, token: str) -> dict[str, Any]:
    feed = Feed(home, period_s=0.05)
    app = make_app(feed, token, Actor(home))
    got: dict[str, Any] = {}
    async with TestClient(TestServer(app)) as client:
        got["none"] = (await client.get("/")).status
        got["wrong"] = (await client.get("/", params={"token": "x" * 30})).status
        page = await client.get("/", params={"token": token})
        got["page"] = page.status
        got["csp"] = page.headers["Content-Security-Policy"]
        got["events_none"] = (await client.get("/events")).status
        body = {"action": "kill", "target": "service-b-1"}
        hdr = {"X-Rpcdemo-Token": token}
        got["post_no_header"] = (await client.post("/api/action", json=body,
                                                   headers=hdr)).status
        got["post_cross"] = (await client.post("/api/action", json=body, headers={
            **hdr, "X-Rpcdemo-Console": "1", "Origin": "http://evil.example"})).status
        resp = await client.post("/api/action", json=body,
                                 headers={**hdr, "X-Rpcdemo-Console": "1"})
        got["post_ok"] = (resp.status, await resp.json())
        for _ in range(100):  # nothing runs here: the feed says the topology is gone
            if feed.gone:
                break
            await asyncio.sleep(0.05)
        events = await client.get("/events", params={"token": token})
        got["events"] = (events.status, await events.text())
    return got


def test_every_request_needs_the_token_and_actions_the_same_origin(tmp_path: Path) -> None:
    home = Home(tmp_path)
    got = asyncio.run(_exchange(home, console_token(home)))
    assert (got["none"], got["wrong"], got["events_none"]) == (403, 403, 403)
    assert got["page"] == 200 and "default-src 'none'" in got["csp"]
    assert "connect-src 'self'" in got["csp"]
    assert (got["post_no_header"], got["post_cross"]) == (403, 403)
    status, answer = got["post_ok"]
    assert status == 503 and answer["ok"] is False  # through the core: nothing runs here
    assert got["events"][0] == 200 and "event: gone" in got["events"][1]


def test_the_ledger_is_read_incrementally_whole_lines_only(tmp_path: Path) -> None:
    def line(n: int, phase: str = "start") -> str:
        return LedgerEntry(ts=1.0 + n, phase=phase, node="service-b-1", node_id="n1",
                           os_pid=7, group="service-b", func="bar", promise_id=f"r{n}:1",
                           step_id=f"r{n}:1.1", arg=n).to_json() + "\n"

    path = tmp_path / "service-b-1.n1.jsonl"
    path.write_text(line(1) + line(2)[:20])  # the second line is torn (still being written)
    tail = LedgerTail(tmp_path)
    assert [e.promise_id for e in tail.read()] == ["r1:1"]
    with path.open("a") as fh:
        fh.write(line(2)[20:] + "not json\n" + line(3, "end"))
    assert [(e.promise_id, e.phase) for e in tail.read()] == [
        ("r1:1", "start"), ("r2:1", "start"), ("r3:1", "end")]
    assert len(tail.read()) == 3  # nothing new: nothing read twice
