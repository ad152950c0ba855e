"""Network faults end to end: the real CLI, supervisor, links, server and nodes.

A partition of service-b's link while it holds bar's step, with a lease far
shorter than the step: the lease lapses on the server, the partitioned
holder finishes its work and tries to settle, and nothing it sends arrives.
After `net heal` its late requests are refused by the task's version fence
(its log says so), the step runs again under the new version, and the flow
completes with the right value; the step's promise settles once. Then `net
delay` on one node shows in the latency of a flow that crosses it, and `net
reset` closes connections that the nodes recover from.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from resonate.connections.local import PENDING_RETRY_TTL

from resonate_rpc_cli.clients.protocol import ResonateClient, TaskRecord
from resonate_rpc_cli.contracts.flows import expected_value
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import read_ledger
from resonate_rpc_cli.links.client import LinkClient
from tests.e2e._cli_support import (
    Cli,
    assert_nothing_left,
    end_leftovers,
    new_cli,
    post_flow,
    short_home,
)
from tests.procs import wait_until

pytestmark = pytest.mark.e2e

#: Longer than the step: SDK 0.8.1 keys its heartbeats by task id, so when a stale execution of
#: the step ends after heal it stops the heartbeat of the current one; a lease shorter than the
#: step then lapses again and again (a livelock seen here with a 1 s lease).
TTL_S = 4.0
STEP_S = 3.0


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    with short_home() as home:
        c = new_cli(home)
        try:
            up = c.run(*c.up_args("--detach", "--memory", "--ttl", str(TTL_S),
                                  "--delay", f"service-b={STEP_S}", "--delay-mode", "work"))
            assert up.returncode == 0, up.stderr
            yield c
        finally:
            c.run("down")
            left = end_leftovers(home)
            assert not left, f"left behind: {left}"
            assert_nothing_left(home)


def start_flow(cli: Cli, flow_id: str, arg: int, done: dict[str, Any]) -> None:
    def post() -> None:
        try:
            done["answer"] = post_flow(cli, "/await-chain", flow_id, arg)
        except Exception as exc:  # reported by the test's assertion
            done["error"] = repr(exc)

    threading.Thread(target=post, daemon=True).start()


def net(cli: Cli, *args: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = cli.json("net", *args)
    return got


def bar_phases(cli: Cli, arg: int) -> list[tuple[str, str]]:
    return [(e.phase, e.node_id) for e in read_ledger(cli.home / "ledger")
            if e.func == "bar" and e.arg == arg]


def task_of(server: ResonateClient, promise_id: str) -> TaskRecord | None:
    return next((t for t in server.task_search() if t["id"] == promise_id), None)


def lapsed(server: ResonateClient, held: TaskRecord) -> TaskRecord | None:
    """The task once its lease moved on from ``held`` (raises, with the task, until then)."""
    task = task_of(server, held["id"])
    if task is not None and (task["state"], task["version"]) == ("acquired", held["version"]):
        raise AssertionError(f"still held: {task}")
    return task


def test_a_partitioned_holder_settles_nothing_and_the_flow_completes_after_heal(
        cli: Cli) -> None:
    arg, flow = 5, "net-partition-5"
    server = ResonateClient(f"http://127.0.0.1:{cli.server_port}", timeout_s=5.0)
    links = LinkClient(Home(cli.home))
    holder = cli.node("service-b-1")["node_id"]
    done: dict[str, Any] = {}
    start_flow(cli, flow, arg, done)
    wait_until(lambda: bar_phases(cli, arg) == [("start", holder)] or done.get("error"), 30,
               "bar's step to start on service-b-1")
    held = wait_until(lambda: task_of(server, f"{flow}:1"), 10, "bar's task")
    assert held is not None and held["state"] == "acquired" and held["pid"] == holder, held
    cut = links.partition("service-b")
    assert [(link.node, link.state) for link in cut] == [("service-b-1", "partitioned")]
    status = cli.json("status")
    assert [n["link"] for n in status["nodes"] if n["name"] == "service-b-1"] == ["partitioned"]
    assert {d["node"]: d["state"] for d in status["links"]}["service-b-1"] == "partitioned"
    # no heartbeat gets through: the lease lapses; the holder finishes its work regardless
    wait_until(lambda: lapsed(server, held), 10 * TTL_S + 5, "the holder's lease to lapse")
    wait_until(lambda: ("end", holder) in bar_phases(cli, arg), STEP_S + 5,
               "the partitioned holder to end its step")
    assert "answer" not in done, "the flow finished while its step's holder was cut off"
    healed_at = time.time()
    assert [link.state for link in links.heal("service-b-1")] == ["ok"]
    # the execute message sent while the link was cut may be lost with the stalled stream;
    # then the server's pending-task retry (every PENDING_RETRY_TTL) brings the task back
    wait_until(lambda: "answer" in done or "error" in done,
               PENDING_RETRY_TTL / 1000 + STEP_S * 2 + 10, "the flow to complete")
    assert done.get("answer", {}).get("message") == expected_value("foo", arg), done
    entries = [e for e in read_ledger(cli.home / "ledger") if e.func == "bar" and e.arg == arg]
    starts = [e.ts for e in entries if e.phase == "start"]
    assert len(starts) >= 2 and starts[1] >= healed_at, "the step did not run again after heal"
    assert {e.value for e in entries if e.phase == "end"} == {expected_value("bar", arg)}
    log = (cli.home / "logs" / "service-b-1.1.log").read_text()
    # the Rust server's 409 text, which ours answers since issue 18
    assert "Task version mismatch" in log, "the stale holder's settle was not refused by the fence"
    # the step's checkpoint settled once, after every execution had started
    step = server.promise_get(entries[0].step_id)
    assert step is not None and step["state"] == "resolved", step
    assert max(starts) * 1000 <= (step.get("settledAt") or 0), (starts, step)


def flow_latency(cli: Cli, tag: str, n: int = 3) -> float:
    times = []
    for i in range(n):
        started = time.monotonic()
        answer = post_flow(cli, "/fan-out-workflow", f"net-{tag}-{i}", 2)
        times.append(time.monotonic() - started)
        assert answer.get("message") == expected_value("zim", 2), answer
    return statistics.median(times)


def test_net_delay_shows_in_flow_latency_and_reset_is_survived(cli: Cli) -> None:
    net(cli, "heal")
    before = flow_latency(cli, "before")
    delayed = net(cli, "delay", "service-h", "300ms", "--jitter", "20ms")
    assert [(d["node"], d["state"], d["delay_ms"]) for d in delayed] == [
        ("service-h-1", "delayed", 300.0)]
    slow = flow_latency(cli, "delayed")
    # rax on service-h makes several requests, each paying ~300 ms each way
    assert slow - before > 0.5, (before, slow)
    net(cli, "heal", "service-h")
    reset = net(cli, "reset", "service-g")
    assert [d["node"] for d in reset] == ["service-g-1"]
    after = flow_latency(cli, "after")
    assert after < slow - 0.4, (before, slow, after)
