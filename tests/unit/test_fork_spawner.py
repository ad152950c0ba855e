"""The fork spawner's choices: fork nodes, plain-spawn the server, fall back without raising.

The fork server is replaced by a fake client (pure logic: which spawner runs,
with what environment, and what happens when the fork server is slow to
start, dies or refuses). The real fork server is in ``tests/e2e/test_forkserver.py``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import NodeName
from resonate_rpc_cli.supervisor import operations
from resonate_rpc_cli.supervisor.daemon import FAST_TICK_S, TICK_S, tick_interval
from resonate_rpc_cli.supervisor.fork import spawner as forkspawn
from resonate_rpc_cli.supervisor.fork.client import ForkServerError
from resonate_rpc_cli.supervisor.fork.spawner import ForkSpawner, forkable_module, make_spawner
from resonate_rpc_cli.supervisor.node import ProcessHandle
from resonate_rpc_cli.supervisor.processes import PopenSpawner
from resonate_rpc_cli.supervisor.topology_config import LaunchSpec, TopologyConfig, build_launch
from tests.unit._supervisor_fakes import make_rig


@dataclass
class Handle:
    pid: int

    def poll(self) -> int | None:
        return None


@dataclass
class FakeClient:
    alive: bool = True
    refuse: bool = False
    closed: bool = False
    forks: list[tuple[str, dict[str, str], Path]] = field(default_factory=list)

    def spawn(
        self, module: str, env: Mapping[str, str], log: Path, cwd: str | None = None,
        timeout_s: float = 10.0,
    ) -> ProcessHandle:
        if self.refuse:
            raise ForkServerError("fork failed: out of memory")
        self.forks.append((module, dict(env), log))
        return Handle(1000 + len(self.forks))

    def close(self, grace_s: float = 3.0) -> None:
        self.closed = True


@dataclass
class RecordingPlain:
    started: list[str] = field(default_factory=list)

    def spawn(self, spec: LaunchSpec) -> ProcessHandle:
        self.started.append(spec.name)
        return Handle(50 + len(self.started))


def spec_of(tmp: Path, name: str, incarnation: int = 1) -> LaunchSpec:
    return build_launch(TopologyConfig(), Home(tmp), NodeName.parse(name),
                        incarnation=incarnation, node_id=f"id{incarnation}", parent_pid=7)


def spawner_with(
    clients: list[FakeClient | Exception], wait_s: float = 2.0,
) -> tuple[ForkSpawner, RecordingPlain, list[str]]:
    """A spawner whose successive fork-server starts return/raise ``clients`` in order."""
    plain = RecordingPlain()
    said: list[str] = []
    queue = list(clients)

    def start() -> FakeClient:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return ForkSpawner(start, plain, wait_s=wait_s, say=said.append), plain, said


def test_nodes_are_forked_and_the_server_is_spawned_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RPCDEMO_SUPERVISOR", "1")
    client = FakeClient()
    spawner, plain, _ = spawner_with([client])
    stale = spec_of(tmp_path, "service-b-1")
    assert stale.ready_file is not None
    stale.ready_file.parent.mkdir(parents=True)
    stale.ready_file.write_text("{}")  # left by an earlier incarnation
    spawner.spawn(spec_of(tmp_path, "server"))
    handle = spawner.spawn(stale)
    spawner.spawn(spec_of(tmp_path, "gateway"))
    assert plain.started == ["server"]
    assert [m for m, _, _ in client.forks] == ["services.service_b", "services.gateway"]
    assert handle.pid == 1001 and spawner.forked == 2 and spawner.fell_back == 0
    assert not stale.ready_file.exists()
    _module, env, log = client.forks[0]
    assert env["RPCDEMO_NODE_NAME"] == "service-b-1" and env["RPCDEMO_HOME"] == str(tmp_path)
    assert "RPCDEMO_SUPERVISOR" not in env, "children must not look like a supervisor"
    assert "PATH" in env, "a fork gets the whole environment, like a plain spawn"
    assert log == tmp_path / "logs/service-b-1.1.log"
    assert not client.closed
    spawner.close()
    assert client.closed, "close() must stop the fork server"


def test_a_fork_server_that_cannot_start_means_plain_spawns_and_no_error(tmp_path: Path) -> None:
    spawner, plain, said = spawner_with([ForkServerError("socket path too long")] * 3)
    for name in ("service-a-1", "service-b-1", "gateway"):
        spawner.spawn(spec_of(tmp_path, name))
    assert plain.started == ["service-a-1", "service-b-1", "gateway"]
    assert spawner.fell_back == 3
    assert any("socket path too long" in line for line in said), said


def test_a_dead_fork_server_falls_back_and_is_started_again(tmp_path: Path) -> None:
    first, second = FakeClient(), FakeClient()
    spawner, plain, said = spawner_with([first, second])
    spawner.spawn(spec_of(tmp_path, "service-a-1"))
    first.alive = False
    spawner.spawn(spec_of(tmp_path, "service-b-1"))
    assert plain.started == ["service-b-1"]
    assert any("died" in line for line in said), said
    pause = threading.Event()
    for _ in range(200):  # the restart runs in the background; poll for it
        spawner.spawn(spec_of(tmp_path, "service-c-1", incarnation=2))
        if second.forks:
            break
        pause.wait(0.01)
    assert [m for m, _, _ in second.forks] == ["services.service_c"], (plain.started, said)
    assert first.closed, "the dead fork server's client is closed"
    spawner.close()


def test_a_refused_fork_falls_back_for_that_node_only(tmp_path: Path) -> None:
    client = FakeClient(refuse=True)
    spawner, plain, said = spawner_with([client])
    spawner.spawn(spec_of(tmp_path, "service-d-1"))
    assert plain.started == ["service-d-1"]
    assert any("out of memory" in line for line in said), said
    client.refuse = False
    spawner.spawn(spec_of(tmp_path, "service-e-1"))
    assert [m for m, _, _ in client.forks] == ["services.service_e"]
    spawner.close()


def test_a_fork_server_slower_than_the_wait_is_not_waited_for(tmp_path: Path) -> None:
    release = threading.Event()
    client = FakeClient()
    plain = RecordingPlain()

    def slow_start() -> FakeClient:
        release.wait(5)
        return client

    spawner = ForkSpawner(slow_start, plain, wait_s=0.05, say=lambda _: None)
    spawner.spawn(spec_of(tmp_path, "service-f-1"))
    assert plain.started == ["service-f-1"]
    release.set()
    spawner.close()  # waits for the start underway, then closes what it started
    assert client.forks == []


def test_only_python_dash_m_nodes_are_forkable(tmp_path: Path) -> None:
    assert forkable_module(spec_of(tmp_path, "service-i-1")) == "services.service_i"
    assert forkable_module(spec_of(tmp_path, "gateway")) == "services.gateway"
    assert forkable_module(spec_of(tmp_path, "server")) is None
    odd = spec_of(tmp_path, "service-a-1")
    other = LaunchSpec(odd.name, odd.group, odd.node_id, 1, ["/usr/bin/env", "-m", "x"],
                       odd.env, odd.log, odd.ready_file)
    assert forkable_module(other) is None


def test_plain_switch_and_unavailable_fork_give_the_plain_spawner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RPCDEMO_SPAWN", "plain")
    assert isinstance(make_spawner(Home(tmp_path)), PopenSpawner)
    monkeypatch.delenv("RPCDEMO_SPAWN")
    monkeypatch.setattr(forkspawn, "fork_available", lambda: False)
    assert isinstance(make_spawner(Home(tmp_path)), PopenSpawner)
    assert forkspawn.fork_available.__name__ == "<lambda>"
    monkeypatch.undo()
    assert forkspawn.fork_available() is sys.platform.startswith(("linux", "darwin"))


def test_the_daemon_ticks_fast_only_while_a_node_starts_dies_or_awaits_restart(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    rig.probe.slow.add("service-b-1")
    rig.steps(4)
    assert tick_interval(rig.sup) == FAST_TICK_S  # service-b-1 is starting
    rig.probe.slow.clear()
    rig.steps(2)
    assert rig.sup.all_ready() and tick_interval(rig.sup) == TICK_S
    rig.signals.obey_term = False
    operations.kill(rig.sup, "service-c-1", "TERM")
    assert tick_interval(rig.sup) == FAST_TICK_S  # signalled, not reaped yet
    rig.steps(100, dt=0.1)
    assert rig.sup.nodes["service-c-1"].state == "killed"
    assert tick_interval(rig.sup) == TICK_S  # reaped, left down: nothing to watch closely
    operations.kill(rig.sup, "service-d-1", "KILL", respawn=True, respawn_after_s=5)
    rig.steps(2)
    assert tick_interval(rig.sup) == FAST_TICK_S  # a respawn is due
