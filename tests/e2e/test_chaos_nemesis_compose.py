"""The nemesis composing faults: overlap, scope, waiting for a task holder, network kinds.

Real ``sleep`` processes and signals (the SleepTopology of test_chaos_nemesis);
links are a fake LinkControl that records calls and reports states.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from resonate_rpc_cli.chaos.nemesis import LEASE_MARGIN_S, Nemesis
from resonate_rpc_cli.chaos.schedule import PlannedFault
from resonate_rpc_cli.chaos.topology import RUNNING, heal_everything, pid_gone
from resonate_rpc_cli.contracts.errors import RpcdemoError
from tests.e2e.test_chaos_nemesis import SleepTopology
from tests.procs import free_port

pytestmark = pytest.mark.e2e


@dataclass
class Link:
    node: str
    state: str = "ok"


class FakeLinks:
    """A LinkControl: partition/delay set the reported state, heal clears it."""

    def __init__(self, nodes: list[str]) -> None:
        self.links = {n: Link(n) for n in nodes}
        self.calls: list[tuple[object, ...]] = []

    def partition(self, node: str, for_s: float | None = None) -> None:
        self.calls.append(("partition", node))
        self._link(node).state = "partitioned"

    def delay(self, node: str, delay_ms: float, jitter_ms: float = 0) -> None:
        self.calls.append(("delay", node, delay_ms, jitter_ms))
        self._link(node).state = "delayed"

    def reset(self, node: str) -> None:
        self.calls.append(("reset", node))
        self._link(node)

    def heal(self, node: str | None = None) -> None:
        self.calls.append(("heal", node))
        for link in self.links.values():
            if node is None or link.node == node:
                link.state = "ok"

    def status(self) -> list[Link]:
        return list(self.links.values())

    def _link(self, node: str) -> Link:
        if node not in self.links:
            raise RpcdemoError(f"no link for {node}")
        return self.links[node]


NAMES = ["server", "gateway", "service-a-1", "service-a-2", "service-a-3", "service-b-1"]


@pytest.fixture
def topo() -> Iterator[SleepTopology]:
    t = SleepTopology(NAMES, f"http://127.0.0.1:{free_port()}")  # nobody listens: no holders
    try:
        yield t
    finally:
        t.close()
        assert all(pid_gone(p.pid) for p in t.all)


def fault(index: int, kind: str, group: str, *, at: float = 0.0, down: float = 0.6,
          scope: str = "one", delay_ms: float = 0.0) -> PlannedFault:
    return PlannedFault(index, at, kind, group, down, 0.0, scope,  # type: ignore[arg-type]
                        delay_ms, 0.0)


def play(nemesis: Nemesis) -> None:
    nemesis.start()
    assert nemesis.done.wait(20), "the schedule was not played"
    nemesis.stop()


@pytest.mark.parametrize("overlap", [1, 2])
def test_overlap_lets_faults_be_in_force_together(topo: SleepTopology, overlap: int) -> None:
    plan = [fault(0, "pause", "service-a"), fault(1, "pause", "service-b", at=0.05)]
    nemesis = Nemesis(topo, plan, ("service-a", "service-b"), overlap=overlap)
    play(nemesis)
    first, second = nemesis.log
    assert first.landed and second.landed, nemesis.log
    assert first.at_ms is not None and second.at_ms is not None and first.healed_ms is not None
    together = second.at_ms < first.healed_ms
    assert together is (overlap == 2), (first, second)
    assert all(n.state == RUNNING for n in topo.nodes())


@pytest.mark.parametrize(("scope", "hit"), [("one", 1), ("minority", 1), ("all", 3)])
def test_scope_hits_that_many_nodes_of_the_group(topo: SleepTopology, scope: str,
                                                 hit: int) -> None:
    before = {n: p.pid for n, p in topo.procs.items()}
    nemesis = Nemesis(topo, [fault(0, "kill", "service-a", scope=scope)], ("service-a",))
    play(nemesis)
    (record,) = nemesis.log
    assert record.landed and len(record.targets) == hit == len(record.os_pids), record
    assert {t.rsplit("-", 1)[0] for t in record.targets} == {"service-a"}
    assert sorted(record.os_pids) == sorted(before[t] for t in record.targets)
    assert all(pid_gone(p) for p in record.os_pids)
    assert all(topo.procs[t].pid != before[t] for t in record.targets)  # respawned


def test_network_faults_go_through_the_links(topo: SleepTopology) -> None:
    links = FakeLinks([n for n in NAMES if n.startswith("service")])
    plan = [fault(0, "partition", "service-b", down=0.2),
            fault(1, "delay", "service-b", at=0.05, down=0.2, delay_ms=250.0),
            fault(2, "reset", "service-b", at=0.1, down=0.2)]
    nemesis = Nemesis(topo, plan, ("service-b",), links=links)
    play(nemesis)
    assert [r.landed for r in nemesis.log] == [True, True, True], nemesis.log
    assert [r.heal for r in nemesis.log] == ["heal-link", "heal-link", "none"]
    assert links.calls == [("partition", "service-b-1"), ("heal", "service-b-1"),
                           ("delay", "service-b-1", 250.0, 0.0), ("heal", "service-b-1"),
                           ("reset", "service-b-1")]
    assert all(link.state == "ok" for link in links.status())
    assert all(n.state == RUNNING for n in topo.nodes())  # no process was touched
    links.partition("service-a-2")
    assert heal_everything(topo, links) == ["healed every link"]
    assert all(link.state == "ok" for link in links.status())


def test_network_faults_without_links_do_not_land(topo: SleepTopology) -> None:
    nemesis = Nemesis(topo, [fault(0, "partition", "service-b")], ("service-b",))
    play(nemesis)
    assert not nemesis.log[0].landed and "no link proxies" in (nemesis.log[0].error or "")


class LateHolder(ThreadingHTTPServer):
    """task.search answers: nobody holds a task until ``holder`` is set."""

    daemon_threads = True
    holder: str | None = None


class LateHandler(BaseHTTPRequestHandler):
    server: LateHolder

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        tasks = [] if self.server.holder is None else [
            {"id": "root-9:1", "state": "acquired", "version": 1, "resumes": 0,
             "pid": self.server.holder, "ttl": 2000}]
        raw = json.dumps({"head": {"status": 200}, "data": {"tasks": tasks}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def test_a_node_fault_waits_for_a_task_holder() -> None:
    srv = LateHolder(("127.0.0.1", 0), LateHandler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    topo = SleepTopology(NAMES, f"http://127.0.0.1:{srv.server_address[1]}")
    timer = threading.Timer(0.5, lambda: setattr(srv, "holder", "id-service-a-3"))
    try:
        timer.start()
        nemesis = Nemesis(topo, [fault(0, "pause", "service-b", down=0.1)],
                          ("service-a", "service-b"), holder_wait_s=10.0)
        play(nemesis)
        (record,) = nemesis.log
        assert record.landed and record.target == "service-a-3", record
        assert record.held == ["root-9:1"]
    finally:
        timer.cancel()
        topo.close()
        srv.shutdown()
        srv.server_close()
    assert all(pid_gone(p.pid) for p in topo.all)


def test_a_node_in_force_is_not_hit_twice() -> None:
    """service-b-1 always holds a task; the second fault waits until the first healed it."""
    srv = LateHolder(("127.0.0.1", 0), LateHandler)
    srv.holder = "id-service-b-1"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    topo = SleepTopology(NAMES, f"http://127.0.0.1:{srv.server_address[1]}")
    try:
        plan = [fault(0, "kill", "service-b"), fault(1, "pause", "service-b", at=0.05)]
        nemesis = Nemesis(topo, plan, ("service-b",), overlap=2, holder_wait_s=5.0)
        play(nemesis)
        first, second = nemesis.log
        assert first.target == second.target == "service-b-1", nemesis.log
        assert first.landed and second.landed and first.held == second.held == ["root-9:1"]
        assert first.healed_ms is not None and second.at_ms is not None
        assert second.at_ms >= first.healed_ms  # it waited for the node to be healed
        alone = Nemesis(topo, plan, ("service-b",), overlap=2)  # no wait: nothing left to hit
        play(alone)
        assert alone.log[1].error == "no live node to pause" and not alone.log[1].landed
    finally:
        topo.close()
        srv.shutdown()
        srv.server_close()
    assert all(pid_gone(p.pid) for p in topo.all)


class LeasedTopology(SleepTopology):
    """A topology that holds faults as leases: records hold/release around each strike."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.leases: list[tuple[str, str, str, float]] = []
        self._ids = 0

    def hold(self, kind: str, node: str, for_s: float) -> int:
        self._ids += 1
        self.leases.append(("hold", kind, node, for_s))
        return self._ids

    def release(self, lease_id: int) -> None:
        self.leases.append(("release", str(lease_id), "", 0.0))


def test_every_fault_is_held_as_a_lease_before_it_strikes_and_released_once_healed() -> None:
    topo = LeasedTopology(NAMES, f"http://127.0.0.1:{free_port()}")
    try:
        links = FakeLinks([n for n in NAMES if n.startswith("service")])
        plan = [fault(0, "partition", "service-b", down=0.2),
                fault(1, "pause", "service-a", at=0.05, down=0.2, scope="all")]
        play(Nemesis(topo, plan, ("service-a", "service-b"), links=links))
        holds = [(k, n, s) for op, k, n, s in topo.leases if op == "hold"]
        assert holds[0] == ("partition", "service-b-1", 0.2 + LEASE_MARGIN_S)
        assert sorted(n for k, n, _s in holds if k == "pause") == \
            ["service-a-1", "service-a-2", "service-a-3"]
        released = sorted(int(i) for op, i, _n, _s in topo.leases if op == "release")
        assert released == [1, 2, 3, 4]  # every lease, once healed
        assert links.calls[0] == ("partition", "service-b-1")
    finally:
        topo.close()
