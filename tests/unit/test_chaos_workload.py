"""The workload against a scripted gateway on loopback: classification and re-sends."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from resonate_rpc_cli.chaos.history import History
from resonate_rpc_cli.chaos.options import FlowPlan, FlowSupply, plan_flows
from resonate_rpc_cli.chaos.workload import Workload, post_flow
from resonate_rpc_cli.contracts.flows import flow_named
from tests.procs import free_port


class Gateway(ThreadingHTTPServer):
    """Answers each id's first ``failures`` attempts with ``fail_status``, then the oracle."""

    daemon_threads = True

    def __init__(self, failures: int, fail_status: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.failures = failures
        self.fail_status = fail_status
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Gateway

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.seen[body["id"]] += 1
            attempt = self.server.seen[body["id"]]
        flow = {"/await-chain": "await-chain", "/fan-out-workflow": "fan-out",
                "/detached-chain": "detached-chain"}.get(self.path)
        if flow is None:
            self._send(404, {"error": "no such route"})
        elif attempt <= self.server.failures:
            if self.server.fail_status == 0:  # drop the connection: the gateway "died"
                self.close_connection = True
                self.connection.close()
                return
            self._send(self.server.fail_status, {"error": "scripted"})
        else:
            spec = flow_named(flow)
            value = spec.expected(body["arg"]) if spec.awaited else "detached-chain started"
            self._send(200, {"id": body["id"], "message": value})

    def _send(self, status: int, obj: dict[str, object]) -> None:
        raw = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def serve(failures: int, fail_status: int) -> Iterator[Gateway]:
    gw = Gateway(failures, fail_status)
    t = threading.Thread(target=gw.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield gw
    finally:
        gw.shutdown()
        gw.server_close()
        t.join(5)


@pytest.fixture
def flaky() -> Iterator[Gateway]:
    yield from serve(2, 503)


@pytest.fixture
def dropping() -> Iterator[Gateway]:
    yield from serve(1, 0)


def test_plan_flows_is_balanced_seeded_and_fresh() -> None:
    a = plan_flows(3, 9, ("await", "detached-chain", "fan-out-workflow"), "t1")
    b = plan_flows(3, 9, ("await-chain", "detached-chain", "fan-out"), "t1")
    assert a == b
    assert Counter(p.flow for p in a) == {"await-chain": 3, "detached-chain": 3, "fan-out": 3}
    assert all(":" not in p.promise_id and "-t1-" in p.promise_id for p in a)
    assert len({p.promise_id for p in a}) == 9
    assert plan_flows(4, 9, ("fan-out",), "t1") != plan_flows(3, 9, ("fan-out",), "t1")


def test_post_flow_classifies_answers(flaky: Gateway) -> None:
    plan = FlowPlan(0, "fan-out", "p-1", 5)
    assert post_flow(flaky.url, plan, 5).type == "info"  # 503
    assert post_flow(flaky.url, plan, 5).type == "info"
    ok = post_flow(flaky.url, plan, 5)
    assert (ok.type, ok.value) == ("ok", 21)
    missing = post_flow(flaky.url + "/nowhere", plan, 5)
    assert missing.type == "fail" and "HTTP 404" in (missing.error or "")
    refused = post_flow(f"http://127.0.0.1:{free_port()}", plan, 1)
    assert refused.type == "info" and refused.error


def test_unknown_outcomes_are_resent_with_the_same_id(dropping: Gateway) -> None:
    plans = plan_flows(1, 12, ("await-chain", "fan-out", "detached-chain"), "x")
    history = History()
    Workload(dropping.url, FlowSupply.of(plans), concurrency=4, history=history,
             deadline=time.monotonic() + 30).run()
    ops = history.ops()
    by_id: dict[str, list[str]] = {}
    for op in ops:
        by_id.setdefault(op.promise_id, []).append(op.type)
    assert set(by_id) == {p.promise_id for p in plans}
    for pid, types in by_id.items():
        assert types == ["invoke", "info", "invoke", "ok"], (pid, types)
    assert dropping.seen == {p.promise_id: 2 for p in plans}
    assert {op.process for op in ops} <= {0, 1, 2, 3}
    attempts = [op.attempt for op in ops if op.type == "ok"]
    assert attempts == [2] * 12


def test_deadline_stops_resending(flaky: Gateway) -> None:
    flaky.failures = 10**6
    history = History()
    started = time.monotonic()
    Workload(flaky.url, FlowSupply.of([FlowPlan(0, "await-chain", "p-x", 1)]), concurrency=1,
             history=history, deadline=started + 1.0).run()
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, elapsed
    types = [op.type for op in history.ops()]
    assert types.count("invoke") >= 2 and "ok" not in types
    assert types[-1] == "info"


class SettledServer(ThreadingHTTPServer):
    daemon_threads = True


class SettledHandler(BaseHTTPRequestHandler):
    """A Resonate server that says every promise is resolved."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        promise = {"id": req["data"]["id"], "state": "resolved", "tags": {}}
        raw = json.dumps({"head": {"status": 200}, "data": {"promise": promise}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def test_no_resend_once_the_server_says_the_root_settled(flaky: Gateway) -> None:
    flaky.failures = 10**6
    srv = SettledServer(("127.0.0.1", 0), SettledHandler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        history = History()
        Workload(flaky.url, FlowSupply.of([FlowPlan(0, "fan-out", "p-s", 2)]), concurrency=1,
                 history=history, deadline=time.monotonic() + 10,
                 server_url=f"http://127.0.0.1:{srv.server_address[1]}").run()
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)
    assert [op.type for op in history.ops()] == ["invoke", "info"]
    assert flaky.seen["p-s"] == 1
