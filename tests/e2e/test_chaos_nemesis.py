"""The nemesis against a topology of real ``sleep`` processes: real signals, psutil checks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from resonate_rpc_cli.chaos.nemesis import Nemesis
from resonate_rpc_cli.chaos.options import ChaosOptions
from resonate_rpc_cli.chaos.orchestrator import execute
from resonate_rpc_cli.chaos.schedule import PlannedFault, plan_faults
from resonate_rpc_cli.chaos.topology import (
    DOWN,
    PAUSED,
    RUNNING,
    NodeInfo,
    heal_everything,
    pid_gone,
    pid_stopped,
)
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, UsageError
from tests.procs import free_port, wait_until

pytestmark = pytest.mark.e2e


class SleepTopology:
    """Each node is a ``sleep`` in its own session; implements ChaosTopology."""

    def __init__(self, names: list[str], server_url: str) -> None:
        self.server_url = server_url
        self.gateway_url = "http://127.0.0.1:1"
        self.ledger_dir = Path("/nonexistent")
        self.durable = True
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.states: dict[str, str] = {}
        self.all: list[subprocess.Popen[bytes]] = []
        for name in names:
            self._start(name)

    def _start(self, name: str) -> None:
        p = subprocess.Popen(["sleep", "60"], start_new_session=True)
        self.all.append(p)
        self.procs[name] = p
        self.states[name] = RUNNING

    def nodes(self) -> list[NodeInfo]:
        return [
            NodeInfo(name, name.rsplit("-", 1)[0] if name.startswith("service") else name,
                     self.procs[name].pid if self.states[name] != DOWN else None,
                     self.states[name], node_id=f"id-{name}")
            for name in self.procs
        ]

    def _sig(self, name: str, sig: int, state: str) -> int:
        if name not in self.procs:
            raise UsageError(f"no node {name}")
        pid = self.procs[name].pid
        os.killpg(pid, sig)
        self.states[name] = state
        return pid

    def kill(self, name: str) -> int:
        return self._sig(name, signal.SIGKILL, DOWN)

    def term(self, name: str) -> int:
        return self._sig(name, signal.SIGTERM, DOWN)

    def pause(self, name: str) -> int:
        return self._sig(name, signal.SIGSTOP, PAUSED)

    def resume(self, name: str) -> int:
        return self._sig(name, signal.SIGCONT, RUNNING)

    def respawn(self, name: str) -> NodeInfo:
        self.procs[name].wait(5)
        self._start(name)
        return next(n for n in self.nodes() if n.name == name)

    def close(self) -> None:
        for p in self.all:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


NAMES = ["server", "gateway", "service-a-1", "service-b-1", "service-c-1"]


@pytest.fixture
def topo() -> Iterator[SleepTopology]:
    t = SleepTopology(NAMES, f"http://127.0.0.1:{free_port()}")  # nobody listens: no holders
    try:
        yield t
    finally:
        t.close()
        assert all(pid_gone(p.pid) for p in t.all)


def test_every_fault_kind_lands_is_confirmed_and_healed(topo: SleepTopology) -> None:
    plan = plan_faults(7, 5, kinds=("kill", "term", "pause", "gateway", "server"),
                       targets=("service-a", "service-b"), interval_s=(0.05, 0.1),
                       down_s=(0.05, 0.1))
    before = {n: p.pid for n, p in topo.procs.items()}
    nemesis = Nemesis(topo, plan, ("service-a", "service-b"))
    nemesis.start()
    wait_until(lambda: len(nemesis.log) == 5 and all(f.healed_ms for f in nemesis.log), 20,
               "five healed faults", interval=0.05)
    nemesis.stop()
    log = nemesis.log
    assert [f.kind for f in log] == [p.kind for p in plan]
    for f in log:
        assert f.landed and f.error is None, f
        assert f.at_ms is not None and f.confirmed_ms is not None and f.healed_ms is not None
        assert f.at_ms <= f.confirmed_ms <= f.healed_ms
        assert f.os_pid == before[f.target] or f.os_pid in {p.pid for p in topo.all}
        if f.kind == "pause":
            assert f.heal == "resume" and f.new_pid == f.os_pid
        else:
            assert f.heal == "respawn" and f.new_pid != f.os_pid and pid_gone(f.os_pid)
        if f.kind in ("gateway", "server"):
            assert f.target == f.kind
        else:
            assert f.target.rsplit("-", 1)[0] in ("service-a", "service-b")
    # healed: every node runs and none is stopped
    for n in topo.nodes():
        assert n.state == RUNNING and n.pid is not None and not pid_stopped(n.pid), n


def test_a_fault_with_no_live_victim_does_not_land(topo: SleepTopology) -> None:
    topo.kill("gateway")
    nemesis = Nemesis(topo, [PlannedFault(0, 0.0, "gateway", "gateway", 0.1, 0.5)], ())
    record = nemesis.inject(nemesis.plan[0])
    assert not record.landed and record.error == "no live node to gateway"


def test_stop_heals_the_fault_in_progress(topo: SleepTopology) -> None:
    fault = PlannedFault(0, 0.0, "pause", "service-c", 30.0, 0.0)
    nemesis = Nemesis(topo, [fault], ("service-c",))
    nemesis.start()
    wait_until(lambda: nemesis.log and nemesis.log[0].landed, 10, "pause landed")
    pid = topo.procs["service-c-1"].pid
    assert pid_stopped(pid)
    started = time.monotonic()
    nemesis.stop()
    assert time.monotonic() - started < 5, "stop must not wait out the 30 s down time"
    assert not pid_stopped(pid) and nemesis.log[0].heal == "resume"


def test_heal_everything_resumes_and_respawns(topo: SleepTopology) -> None:
    topo.pause("service-a-1")
    old = topo.kill("service-b-1")
    done = heal_everything(topo)
    assert sorted(done) == ["respawned service-b-1", "resumed service-a-1"]
    assert topo.procs["service-b-1"].pid != old
    assert all(n.state == RUNNING for n in topo.nodes())


class TaskServer(ThreadingHTTPServer):
    daemon_threads = True
    holder = "id-service-b-1"


class TaskHandler(BaseHTTPRequestHandler):
    server: TaskServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        tasks = [{"id": "root-1:2", "state": "acquired", "version": 1, "resumes": 0,
                  "pid": self.server.holder, "ttl": 2000}]
        raw = json.dumps({"head": {"status": 200}, "data": {"tasks": tasks}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def test_node_faults_prefer_a_node_that_holds_a_task() -> None:
    srv = TaskServer(("127.0.0.1", 0), TaskHandler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    topo = SleepTopology(NAMES, f"http://127.0.0.1:{srv.server_address[1]}")
    try:
        nemesis = Nemesis(topo, [], ("service-a", "service-b", "service-c"))
        for pick in (0.0, 0.5, 0.99):
            fault = PlannedFault(0, 0.0, "kill", "service-a", 0.1, pick)
            victim = nemesis.choose_victim(fault, topo.nodes())
            assert victim is not None and victim.name == "service-b-1"
        record = nemesis.inject(PlannedFault(0, 0.0, "kill", "service-a", 0.1, 0.3))
        assert record.landed and record.target == "service-b-1"
        assert record.held == ["root-1:2"]
        TaskServer.holder = "nobody"
        fallback = nemesis.choose_victim(PlannedFault(1, 0.0, "pause", "service-c", 0.1, 0.9),
                                         topo.nodes())
        assert fallback is not None and fallback.name == "service-c-1"
    finally:
        TaskServer.holder = "id-service-b-1"
        topo.close()
        srv.shutdown()
        srv.server_close()
    assert all(pid_gone(p.pid) for p in topo.all)


def test_a_topology_that_does_not_answer_is_an_infrastructure_error(topo: SleepTopology) -> None:
    options = ChaosOptions(flows=1, faults=("kill",), seed=1, health_timeout_s=0.3)
    with pytest.raises(NotRunningError, match="server and gateway not healthy") as info:
        execute(topo, options)
    assert info.value.status == ExitStatus.NOT_RUNNING
