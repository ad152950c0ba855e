"""Failures the topology must absorb: a step that raises, a node killed mid-step, a slow flow.

One topology for the module: service-b's step takes 3 s of plain work with a
2 s lease (so a SIGKILL mid-step is recovered within seconds), service-c's
step raises on its first attempt, and service-h sleeps durably before its step.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts.flows import FLOWS
from tests.e2e._topology_support import (
    Topology,
    assert_nothing_left,
    executions,
    http,
    start_topology,
)
from tests.procs import proc_group, wait_until

pytestmark = pytest.mark.e2e

SLOW_B = {"RPCDEMO_STEP_DELAY": "3", "RPCDEMO_DELAY_MODE": "work", "RPCDEMO_TTL": "2"}
SLEEPY_H = {"RPCDEMO_STEP_DELAY": "1.5", "RPCDEMO_DELAY_MODE": "sleep", "RPCDEMO_TTL": "2"}


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    home: Path = tmp_path_factory.mktemp("recovery-home")
    with proc_group() as procs:
        yield start_topology(procs, home, {
            "gateway": ("gateway", {}),
            "service-a-1": ("service-a", {}),
            "service-b-1": ("service-b", SLOW_B),
            "service-c-1": ("service-c", {"RPCDEMO_FAIL_FIRST": "1"}),
            "service-g-1": ("service-g", {}),
            "service-h-1": ("service-h", SLEEPY_H),
            "service-i-1": ("service-i", {}),
        })
    assert_nothing_left(home)


class Call(threading.Thread):
    """A POST in the background, so the test can break things meanwhile."""

    def __init__(self, url: str, body: object, timeout: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.url, self.body, self.timeout = url, body, timeout
        self.result: tuple[int, object] | None = None
        self.finished_at = 0.0
        self.start()

    def run(self) -> None:
        self.result = http("POST", self.url, self.body, timeout=self.timeout)
        self.finished_at = time.monotonic()


def test_a_step_that_raises_once_is_retried_and_the_flow_completes(topo: Topology) -> None:
    flow = FLOWS["await-chain"]
    status, body = http("POST", topo.gateway_url + flow.route, {"id": "retry-1", "arg": 2})
    assert (status, body) == (200, {"id": "retry-1", "message": flow.expected(2)})
    baz = [e for e in topo.ledger() if e.func == "baz" and e.promise_id.startswith("retry-1:")]
    assert [e.phase for e in baz] == ["start", "start", "end"], baz
    assert len({e.step_id for e in baz}) == 1, "the retry must be the same checkpoint"
    assert "injected failure on first attempt" in topo.nodes["service-c-1"].proc.output()


def test_killing_service_b_mid_step_and_starting_another_completes_the_chain(
    topo: Topology,
) -> None:
    flow = FLOWS["await-chain"]
    call = Call(topo.gateway_url + flow.route, {"id": "kill-1", "arg": 4})
    started = wait_until(lambda: executions(topo.ledger(), "bar", "kill-1", "start"), 15,
                         "bar's step to start on service-b-1")
    victim = topo.nodes["service-b-1"]
    assert [e.node for e in started] == ["service-b-1"]
    victim.proc.signal(signal.SIGKILL)
    victim.proc.popen.wait(5)
    killed_at = time.monotonic()
    assert executions(topo.ledger(), "bar", "kill-1") == [], "bar finished before the kill"

    topo.start_nodes({"service-b-2": ("service-b", SLOW_B)})
    call.join(60)
    assert call.result == (200, {"id": "kill-1", "message": flow.expected(4)})
    print(f"await chain answered {call.finished_at - killed_at:.1f}s after the SIGKILL "
          f"(TTL 2 s, step 3 s)")

    ledger = topo.ledger()
    bar = [e for e in ledger if e.func == "bar" and e.promise_id.startswith("kill-1:")]
    assert [(e.phase, e.node) for e in bar] == [
        ("start", "service-b-1"), ("start", "service-b-2"), ("end", "service-b-2")], bar
    # completed steps were not run again: baz before the kill, foo after it
    assert len(executions(ledger, "baz", "kill-1")) == 1
    assert len(executions(ledger, "foo", "kill-1", "start")) == 1


def test_an_await_that_times_out_answers_504_and_a_resend_gets_the_value(
    topo: Topology,
) -> None:
    flow = FLOWS["await-chain"]
    url = topo.gateway_url + flow.route
    t0 = time.monotonic()
    status, body = http("POST", url, {"id": "slow-1", "arg": 6, "timeout": 0.5})
    assert status == 504, body
    assert isinstance(body, dict) and body["id"] == "slow-1" and "re-send" in body["error"]
    assert time.monotonic() - t0 < 3.0
    status, body = http("POST", url, {"id": "slow-1", "arg": 6, "timeout": 30})
    assert (status, body) == (200, {"id": "slow-1", "message": flow.expected(6)})
    assert len(executions(topo.ledger(), "bar", "slow-1", "start")) == 1


def test_a_node_killed_in_a_durable_sleep_loses_nothing(topo: Topology) -> None:
    """``sleep`` delay mode: the timer lives on the server, the step runs once, elsewhere."""
    flow = FLOWS["fan-out"]
    call = Call(topo.gateway_url + flow.route, {"id": "sleepy-1", "arg": 2})
    client = ResonateClient(topo.url)
    rax_timer = "sleepy-1:1.1"  # rax's first durable op is its ctx.sleep
    timer = wait_until(lambda: client.promise_get(rax_timer), 15, "rax's timer promise")
    assert timer is not None and (timer.get("tags") or {}).get("resonate:timer") == "true", timer
    victim = topo.nodes["service-h-1"]
    victim.proc.signal(signal.SIGKILL)
    victim.proc.popen.wait(5)
    topo.start_nodes({"service-h-2": ("service-h", SLEEPY_H)})
    call.join(60)
    assert call.result == (200, {"id": "sleepy-1", "message": flow.expected(2)})
    rax = [e for e in topo.ledger() if e.func == "rax" and e.promise_id.startswith("sleepy-1:")]
    assert [(e.phase, e.node) for e in rax] == [("start", "service-h-2"), ("end", "service-h-2")]
