"""Fakes for the supervisor's protocols: a manual clock, processes that exit on command."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.node import RestartPolicy
from resonate_rpc_cli.supervisor.topology_config import LaunchSpec, TopologyConfig


@dataclass
class FakeClock:
    now: float = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeProcess:
    pid: int
    spec: LaunchSpec
    code: int | None = None
    stopped: bool = False

    def poll(self) -> int | None:
        return self.code


@dataclass
class FakeSpawner:
    next_pid: int = 100
    procs: list[FakeProcess] = field(default_factory=list)
    fail_names: set[str] = field(default_factory=set)

    def spawn(self, spec: LaunchSpec) -> FakeProcess:
        if spec.name in self.fail_names:
            raise OSError("no such file")
        self.next_pid += 1
        proc = FakeProcess(self.next_pid, spec)
        self.procs.append(proc)
        return proc

    def by_pid(self, pid: int) -> FakeProcess:
        return next(p for p in self.procs if p.pid == pid)


@dataclass
class FakeSignals:
    """Records signals; KILL ends the process at once, TERM only if ``obey_term``."""

    spawner: FakeSpawner
    obey_term: bool = True
    sent: list[tuple[int, int]] = field(default_factory=list)

    def send_group(self, pid: int, sig: int) -> None:
        self.sent.append((pid, sig))
        proc = self.spawner.by_pid(pid)
        if proc.code is not None:
            return
        if sig == signal.SIGKILL:
            proc.code = -9
        elif sig == signal.SIGTERM and self.obey_term and not proc.stopped:
            proc.code = 0
        elif sig == signal.SIGSTOP:
            proc.stopped = True
        elif sig == signal.SIGCONT:
            proc.stopped = False


@dataclass
class FakeProbe:
    """Everything is ready as soon as it is spawned, except names in ``slow``."""

    slow: set[str] = field(default_factory=set)
    #: node name -> the Resonate id its readiness reports (a declared node's listener)
    answers: dict[str, str] = field(default_factory=dict)

    def ready(self, spec: LaunchSpec) -> bool | str:
        return spec.name not in self.slow and self.answers.get(spec.name, True)


@dataclass
class Rig:
    sup: Supervisor
    clock: FakeClock
    spawner: FakeSpawner
    signals: FakeSignals
    probe: FakeProbe

    def pid(self, name: str) -> int:
        pid = self.sup.nodes[name].pid
        assert pid is not None, self.sup.snapshot()
        return pid

    def exit(self, name: str, code: int) -> None:
        self.spawner.by_pid(self.pid(name)).code = code

    def steps(self, n: int = 3, dt: float = 0.05) -> None:
        for _ in range(n):
            self.sup.step()
            self.clock.advance(dt)

    def states(self) -> dict[str, str]:
        return {name: str(node.state) for name, node in self.sup.nodes.items()}


def make_rig(tmp: Path, policy: RestartPolicy | None = None, **config: object) -> Rig:
    clock = FakeClock()
    spawner = FakeSpawner()
    signals = FakeSignals(spawner)
    probe = FakeProbe()
    ids = iter(f"id{i:04d}" for i in range(10_000))
    sup = Supervisor(
        TopologyConfig(**config),  # type: ignore[arg-type]
        Home(tmp), clock=clock, spawner=spawner, signals=signals, probe=probe,
        parent_pid=4242, policy=policy, new_node_id=lambda: next(ids),
    )
    return Rig(sup, clock, spawner, signals, probe)
