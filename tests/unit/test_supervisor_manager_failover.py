"""Failover in the supervision loop: leases are released exactly on certain death.

The supervisor core with fakes (manual clock, processes that exit on command)
and a recording :class:`LeaseReleaser`. A release must follow every reaped
service node (once a live member of its group can take the work), and never
a paused or live node, the gateway, the server, shutdown, or an exit the fork
server could not confirm.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor import operations
from resonate_rpc_cli.supervisor.failover import ReleaseOutcome
from resonate_rpc_cli.supervisor.fork.client import LOST
from resonate_rpc_cli.supervisor.manager import Supervisor
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from tests.unit._supervisor_fakes import FakeClock, FakeProbe, FakeSignals, FakeSpawner, Rig


@dataclass
class FakeReleaser:
    """Records release requests; each finishes (as an outcome) at the next ``outcomes``."""

    asked: list[tuple[str, str]] = field(default_factory=list)
    no_extra: bool = False  # the server cannot release (a real one, --no-extras)
    _finished: list[ReleaseOutcome] = field(default_factory=list)

    def release(self, node: str, node_id: str) -> None:
        self.asked.append((node, node_id))
        if self.no_extra:
            outcome = ReleaseOutcome(node, node_id, None, "server has no release extra")
        else:
            outcome = ReleaseOutcome(node, node_id, ("t1",),
                                     f"1 lease(s) of {node_id} back to the group")
        self._finished.append(outcome)

    def outcomes(self) -> list[ReleaseOutcome]:
        done, self._finished = self._finished, []
        return done


def failover_rig(tmp: Path, **config: object) -> tuple[Rig, FakeReleaser]:
    clock = FakeClock()
    spawner = FakeSpawner()
    signals = FakeSignals(spawner)
    probe = FakeProbe()
    releaser = FakeReleaser()
    ids = iter(f"id{i:04d}" for i in range(10_000))
    sup = Supervisor(
        TopologyConfig(**config),  # type: ignore[arg-type]
        Home(tmp), clock=clock, spawner=spawner, signals=signals, probe=probe,
        parent_pid=4242, new_node_id=lambda: next(ids), releaser=releaser,
    )
    rig = Rig(sup, clock, spawner, signals, probe)
    rig.steps(4)
    assert sup.all_ready(), rig.states()
    return rig, releaser


def released_events(rig: Rig) -> list[tuple[str, str | None]]:
    return [(e.node, e.node_id) for e in rig.sup.feed.since(0) if e.kind == "released"]


def test_kill_with_respawn_releases_the_dead_id_once_the_new_node_is_ready(
    tmp_path: Path,
) -> None:
    rig, releaser = failover_rig(tmp_path)
    rig.probe.slow.add("service-b-1")  # the respawned node takes a while to get ready
    dead_id = rig.sup.nodes["service-b-1"].node_id
    operations.kill(rig.sup, "service-b", "KILL", respawn=True)
    rig.steps(3)
    node = rig.sup.nodes["service-b-1"]
    assert node.state == "starting" and node.node_id != dead_id, rig.states()
    assert releaser.asked == [], "released while nobody of the group could take the work"
    rig.probe.slow.clear()
    rig.steps(2)
    assert node.state == "ready"
    assert releaser.asked == [("service-b-1", dead_id)]
    assert released_events(rig) == [("service-b-1", dead_id)]
    rig.steps(10)
    assert releaser.asked == [("service-b-1", dead_id)], "released more than once"


def test_a_ready_sibling_gets_the_work_at_once(tmp_path: Path) -> None:
    rig, releaser = failover_rig(tmp_path, replicas={"service-b": 2})
    dead_id = rig.sup.nodes["service-b-2"].node_id
    operations.kill(rig.sup, "service-b-2", "KILL")
    rig.sup.step()
    assert releaser.asked == [("service-b-2", dead_id)]
    assert rig.sup.nodes["service-b-2"].state == "killed"


def test_a_node_that_crashes_on_its_own_is_released_when_its_restart_is_ready(
    tmp_path: Path,
) -> None:
    rig, releaser = failover_rig(tmp_path)
    dead_id = rig.sup.nodes["service-e-1"].node_id
    rig.exit("service-e-1", 1)
    rig.sup.step()
    assert rig.sup.nodes["service-e-1"].state == "backoff"
    assert releaser.asked == []
    rig.steps(10, dt=0.1)
    assert rig.sup.nodes["service-e-1"].state == "ready", rig.states()
    assert releaser.asked == [("service-e-1", dead_id)]


def test_a_killed_node_left_down_is_released_when_respawned_later(tmp_path: Path) -> None:
    rig, releaser = failover_rig(tmp_path)
    dead_id = rig.sup.nodes["service-h-1"].node_id
    operations.kill(rig.sup, "service-h")
    rig.steps(20, dt=1.0)
    assert releaser.asked == []
    operations.respawn(rig.sup, "service-h")
    rig.steps(2)
    assert releaser.asked == [("service-h-1", dead_id)]


def test_a_paused_node_is_alive_and_keeps_its_leases(tmp_path: Path) -> None:
    rig, releaser = failover_rig(tmp_path, replicas={"service-b": 2})
    operations.kill(rig.sup, "service-b-1", "STOP")
    rig.steps(20, dt=1.0)
    assert rig.sup.nodes["service-b-1"].state == "paused"
    operations.kill(rig.sup, "service-b-1", "CONT")
    rig.steps(5)
    assert rig.sup.nodes["service-b-1"].state == "ready"
    assert releaser.asked == []
    # killed while paused: now it is dead, and its leases go back
    paused_id = rig.sup.nodes["service-b-1"].node_id
    operations.kill(rig.sup, "service-b-1", "STOP")
    operations.kill(rig.sup, "service-b-1", "KILL")
    rig.sup.step()
    assert releaser.asked == [("service-b-1", paused_id)]


def test_a_term_that_is_not_obeyed_releases_only_after_the_kill_lands(tmp_path: Path) -> None:
    rig, releaser = failover_rig(tmp_path, replicas={"service-c": 2}, grace_s=3.0)
    rig.signals.obey_term = False
    dead_id = rig.sup.nodes["service-c-1"].node_id
    operations.kill(rig.sup, "service-c-1", "TERM")
    rig.steps(10, dt=0.2)  # 2 s: still alive, holding its leases
    assert releaser.asked == []
    rig.steps(10, dt=0.2)  # past the grace: SIGKILL, reaped
    assert releaser.asked == [("service-c-1", dead_id)]


def test_gateway_server_and_shutdown_exits_release_nothing(tmp_path: Path) -> None:
    rig, releaser = failover_rig(tmp_path)
    operations.kill(rig.sup, "gateway", "KILL", respawn=True)  # its id "gateway" lives on
    rig.steps(5)
    assert rig.sup.nodes["gateway"].state == "ready"
    operations.kill(rig.sup, "server", "KILL", respawn=True)
    rig.steps(5)
    rig.sup.shutdown()
    rig.steps(10, dt=1.0)
    assert rig.sup.done(), rig.states()
    assert releaser.asked == []


def test_an_exit_the_fork_server_could_not_confirm_is_killed_not_released(
    tmp_path: Path,
) -> None:
    rig, releaser = failover_rig(tmp_path, replicas={"service-a": 2})
    pid = rig.pid("service-a-1")
    rig.exit("service-a-1", LOST)
    rig.sup.step()
    assert (pid, signal.SIGKILL) in rig.signals.sent
    rig.steps(10, dt=0.2)
    assert rig.sup.nodes["service-a-1"].state == "ready", rig.states()
    assert releaser.asked == []


def test_without_a_releaser_deaths_are_handled_as_before(tmp_path: Path) -> None:
    clock = FakeClock()
    spawner = FakeSpawner()
    sup = Supervisor(TopologyConfig(), Home(tmp_path), clock=clock, spawner=spawner,
                     signals=FakeSignals(spawner), probe=FakeProbe(), parent_pid=1)
    rig = Rig(sup, clock, spawner, FakeSignals(spawner), FakeProbe())
    rig.steps(4)
    operations.kill(sup, "service-b", "KILL", respawn=True)
    rig.steps(3)
    assert sup.nodes["service-b-1"].state == "ready"
    assert released_events(rig) == []


def test_a_release_the_server_could_not_do_is_not_shown_as_released(tmp_path: Path) -> None:
    rig, releaser = failover_rig(tmp_path, replicas={"service-b": 2})
    releaser.no_extra = True
    dead_id = rig.sup.nodes["service-b-1"].node_id
    operations.kill(rig.sup, "service-b-1", "KILL")
    rig.steps(2)
    assert releaser.asked == [("service-b-1", dead_id)]
    assert released_events(rig) == []
