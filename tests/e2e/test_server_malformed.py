"""Bad input never takes the embedded server down: every malformed request gets a 4xx."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.server.request import KNOWN_KINDS
from tests.e2e._server_support import (
    assert_no_leftovers,
    client_result,
    info,
    start_client,
    start_server,
    start_worker,
    wait_listeners,
)
from tests.procs import ProcGroup

pytestmark = pytest.mark.e2e

#: A well-formed ``data`` per kind; every field of it gets mistyped below.
VALID: dict[str, dict[str, Any]] = {
    "promise.get": {"id": "p"},
    "promise.create": {"id": "p", "timeoutAt": 2**62, "param": {}, "tags": {}},
    "promise.settle": {"id": "p", "state": "resolved", "value": {}},
    "promise.register_listener": {"awaited": "p", "address": "poll://uni@g/x"},
    "promise.search": {"state": "pending", "tags": {}, "limit": 10, "cursor": "a"},
    "promise.register_callback": {"awaited": "p", "awaiter": "p:1"},
    "task.create": {"pid": "x", "ttl": 1000, "action": {
        "kind": "promise.create",
        "data": {"id": "t", "timeoutAt": 2**62, "tags": {"resonate:target": "poll://any@g"}}}},
    "task.acquire": {"id": "t", "version": 0, "pid": "x", "ttl": 1000},
    "task.release": {"id": "t", "version": 0},
    "task.fulfill": {"id": "t", "version": 0, "action": {"kind": "promise.settle",
                                                         "data": {"id": "t", "state": "resolved"}}},
    "task.fence": {"id": "t", "version": 0, "action": {"kind": "promise.create",
                                                       "data": {"id": "f", "timeoutAt": 1}}},
    "task.suspend": {"id": "t", "version": 0, "actions": [
        {"kind": "promise.register_callback", "data": {"awaited": "t:1", "awaiter": "t"}}]},
    "task.heartbeat": {"pid": "x", "tasks": [{"id": "t", "version": 0}]},
    "task.search": {"state": "pending", "limit": 10, "cursor": "a"},
    "task.get": {"id": "t"},
    "task.halt": {"id": "t"},
    "task.continue": {"id": "t"},
    "schedule.create": {"id": "s", "cron": "* * * * *", "promiseId": "p",
                        "promiseTimeout": 1, "promiseTags": {"resonate:target": "poll://any@g"}},
    "schedule.get": {"id": "s"},
    "schedule.delete": {"id": "s"},
    "schedule.search": {},
}
WRONG: list[Any] = [None, True, -1, 2**70, 1.5, "", "x" * 300, [], [1, "a"], {}, {"a": [None]}]


def post(url: str, body: bytes) -> tuple[int, Any]:
    req = urllib.request.Request(url + "/", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def envelope(kind: Any, data: Any) -> bytes:
    return json.dumps({"kind": kind, "head": {"corrId": "fuzz", "version": "2026-04-01"},
                       "data": data}).encode()


def malformed_bodies() -> list[bytes]:
    rng = random.Random(7)
    bodies = [b"", b"{", b"not json", b"[]", b"42", b'"s"', b"null", b"\xff\xfe",
              b'{"kind": "promise.get"}', envelope("nope.kind", {}), envelope(None, {}),
              envelope(7, {}), envelope("promise.get", []), envelope("promise.get", None),
              json.dumps({"kind": "promise.get", "head": [], "data": {}}).encode()]
    assert set(VALID) == KNOWN_KINDS
    for kind, data in VALID.items():
        bodies.append(envelope(kind, {}))
        for field in data:
            for wrong in WRONG:
                bodies.append(envelope(kind, {**data, field: wrong}))
                bodies.append(envelope(kind, {k: v for k, v in data.items() if k != field}))
        nested = json.loads(json.dumps(data))
        for _ in range(5):
            bodies.append(envelope(kind, _mutate(nested, rng)))
    return bodies


def _mutate(obj: Any, rng: random.Random) -> Any:
    if isinstance(obj, dict) and obj:
        key = rng.choice(list(obj))
        return {**obj, key: _mutate(obj[key], rng)}
    if isinstance(obj, list) and obj:
        return [_mutate(obj[0], rng), *obj[1:]]
    return rng.choice(WRONG)


def test_malformed_requests_get_4xx_and_flows_keep_working(
    procs: ProcGroup, tmp_path: Path
) -> None:
    url, server = start_server(procs, tmp_path, "--max-body", "65536", memory=False)
    start_worker(procs, tmp_path, url, ["service-c"], "w")
    wait_listeners(url, {"service-c": ["w-service-c"]})

    bodies = malformed_bodies()
    answers = [post(url, body) for body in bodies]
    for body, (status, resp) in zip(bodies, answers, strict=True):
        assert status < 500, (body, status, resp)
        head = resp["head"]
        assert head["status"] < 500 and (head["status"] == status or status == 200), (body, resp)
    rejected = sum(1 for status, _ in answers if 400 <= status < 500)
    assert rejected >= len(bodies) // 2, f"only {rejected} of {len(bodies)} rejected"
    for body in bodies[:15]:  # the structurally broken ones must all be 400
        status, resp = post(url, body)
        assert status == 400 and resp["head"]["status"] == 400, body
        assert isinstance(resp["data"], str) and resp["data"], body  # Rust: data is the message

    status, resp = post(url, envelope("promise.create", {"id": "big", "param": "x" * 70_000}))
    assert status == 413 and resp["head"]["status"] == 413, resp

    assert server.alive()
    result = client_result(start_client(procs, tmp_path, url, "baz", "service-c", {"ok": 9}), 20)
    assert result == {"values": {"ok": 9}}
    assert "Traceback" not in server.output()

    # What the fuzz did is in the log; replaying it after a kill -9 rebuilds the same state.
    before = {k: info(url)[k] for k in ("promises", "tasks")}
    server.signal(9)
    server.popen.wait(5)
    url, server = start_server(procs, tmp_path, port=int(url.rsplit(":", 1)[1]), memory=False)
    assert {k: info(url)[k] for k in ("promises", "tasks")} == before
    assert_no_leftovers(procs, tmp_path)
