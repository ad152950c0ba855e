"""Delivery through the embedded server: anycast, late joiners, stream recycling, release."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from tests.e2e._server_support import (
    assert_no_leftovers,
    client_result,
    executions,
    info,
    start_client,
    start_server,
    start_worker,
    wait_listeners,
)
from tests.procs import ProcGroup, wait_until

pytestmark = pytest.mark.e2e


def test_anycast_runs_each_task_once_and_spreads_work(procs: ProcGroup, tmp_path: Path) -> None:
    url, _ = start_server(procs, tmp_path)
    start_worker(procs, tmp_path, url, ["service-c"], "w1")
    start_worker(procs, tmp_path, url, ["service-c"], "w2")
    wait_listeners(url, {"service-c": ["w1-service-c", "w2-service-c"]})

    calls = {f"baz-{i}": i for i in range(30)}
    result = client_result(start_client(procs, tmp_path, url, "baz", "service-c", calls), 30)

    assert result == {"values": {pid: arg for pid, arg in calls.items()}}
    runs = executions(tmp_path)
    per_arg = Counter(e["arg"] for e in runs)
    assert per_arg == Counter(range(30)), f"each task exactly once; got {per_arg}"
    per_worker = Counter(e["pid"] for e in runs)
    assert set(per_worker) == {"w1-service-c", "w2-service-c"}, per_worker
    assert_no_leftovers(procs, tmp_path)


def test_work_for_an_empty_group_goes_to_the_first_member_that_joins(
    procs: ProcGroup, tmp_path: Path
) -> None:
    url, _ = start_server(procs, tmp_path)
    client = start_client(procs, tmp_path, url, "baz", "service-c", {"early": 7})
    pending = ResonateClient(url)
    wait_until(lambda: [t["state"] for t in pending.task_search()] == ["pending"], 15,
               "the task to wait, pending, with nobody to run it")

    joined = time.monotonic()
    start_worker(procs, tmp_path, url, ["service-c"], "late")
    assert client_result(client, 20) == {"values": {"early": 7}}
    # Far sooner than the 30 s pending-retry of a real server.
    assert time.monotonic() - joined < 10
    assert [e["pid"] for e in executions(tmp_path)] == ["late-service-c"]
    assert_no_leftovers(procs, tmp_path)


def test_recycled_streams_keep_idle_workers_listening(procs: ProcGroup, tmp_path: Path) -> None:
    url, _ = start_server(procs, tmp_path, "--stream-lifetime", "0.5", "--keepalive", "0.2")
    start_worker(procs, tmp_path, url, ["service-c"], "idle")
    wait_until(lambda: info(url)["connects"].get("idle-service-c", 0) >= 4, 30,
               "the worker's stream to be recycled several times")
    result = client_result(start_client(procs, tmp_path, url, "baz", "service-c", {"r": 3}), 20)
    assert result == {"values": {"r": 3}}
    assert_no_leftovers(procs, tmp_path)


def test_release_of_a_dead_workers_lease_hands_its_task_over_at_once(
    procs: ProcGroup, tmp_path: Path
) -> None:
    url, _ = start_server(procs, tmp_path)
    doomed = start_worker(procs, tmp_path, url, ["service-c"], "doomed",
                          WORKER_TTL="120", WORKER_DELAY="60")
    wait_listeners(url, {"service-c": ["doomed-service-c"]})
    client = start_client(procs, tmp_path, url, "baz", "service-c", {"leased": 4})
    wait_until(lambda: executions(tmp_path), 15, "the doomed worker to start the step")
    doomed.signal(9)
    doomed.popen.wait(5)

    start_worker(procs, tmp_path, url, ["service-c"], "heir")
    wait_listeners(url, {"service-c": ["heir-service-c"]})
    req = urllib.request.Request(f"{url}/rpcdemo/release", method="POST",
                                 data=json.dumps({"pid": "doomed-service-c"}).encode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read()) == {"released": ["leased"]}
    released = time.monotonic()
    assert client_result(client, 20) == {"values": {"leased": 4}}
    assert time.monotonic() - released < 10, "the 120 s lease must not be waited out"
    assert [e["pid"] for e in executions(tmp_path)] == ["doomed-service-c", "heir-service-c"]
    assert_no_leftovers(procs, tmp_path)


def test_release_before_any_member_is_back_still_reaches_the_next_member_at_once(
    procs: ProcGroup, tmp_path: Path
) -> None:
    """A release with nobody listening must not hide the task from the next member.

    The released task's ``execute`` finds no live member (or only the dead
    node's lingering stream); the member that connects next must get it at
    once, not after the 30 s re-send.
    """
    url, _ = start_server(procs, tmp_path)
    doomed = start_worker(procs, tmp_path, url, ["service-c"], "doomed",
                          WORKER_TTL="120", WORKER_DELAY="60")
    wait_listeners(url, {"service-c": ["doomed-service-c"]})
    client = start_client(procs, tmp_path, url, "baz", "service-c", {"leased": 5})
    wait_until(lambda: executions(tmp_path), 15, "the doomed worker to start the step")
    doomed.signal(9)
    doomed.popen.wait(5)
    req = urllib.request.Request(f"{url}/rpcdemo/release", method="POST",
                                 data=json.dumps({"pid": "doomed-service-c"}).encode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.loads(resp.read()) == {"released": ["leased"]}
    released = time.monotonic()
    start_worker(procs, tmp_path, url, ["service-c"], "heir")
    assert client_result(client, 20) == {"values": {"leased": 5}}
    assert time.monotonic() - released < 10, "the task waited for the 30 s re-send"
    assert [e["pid"] for e in executions(tmp_path)] == ["doomed-service-c", "heir-service-c"]
    assert_no_leftovers(procs, tmp_path)
