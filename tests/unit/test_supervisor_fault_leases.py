"""Fault leases on a fake supervisor: healed at the deadline, when the holder goes, on `heal`."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.supervisor import operations
from resonate_rpc_cli.supervisor.fault_heal import heal_due, heal_now
from resonate_rpc_cli.supervisor.fault_leases import FaultBook
from tests.unit._supervisor_fakes import Rig, make_rig


class Holders:
    """The fake process table of holders: alive until ``gone``."""

    def __init__(self) -> None:
        self.gone: set[int] = set()

    def alive(self, pid: int, _started: float | None) -> bool:
        return pid not in self.gone


def ready(tmp_path: Path) -> Rig:
    rig = make_rig(tmp_path)
    rig.steps(4)
    assert rig.sup.all_ready(), rig.states()
    return rig


def hold(rig: Rig, kind: str, node: str, for_s: float, pid: int = 77) -> int:
    lease = rig.sup.faults.add(kind, node, holder="chaos", holder_pid=pid, holder_started=1.0,
                               for_s=for_s, now=rig.clock.monotonic(), wall=rig.clock.wall())
    return lease.id


def test_a_paused_node_is_resumed_once_its_holder_is_gone(tmp_path: Path) -> None:
    rig, holders = ready(tmp_path), Holders()
    operations.kill(rig.sup, "service-b-1", "STOP")
    hold(rig, "pause", "service-b-1", 60.0)
    assert heal_due(rig.sup, rig.sup.faults, holders.alive) == []
    assert rig.states()["service-b-1"] == "paused"
    holders.gone.add(77)
    rig.clock.advance(0.1)  # holders are looked at every 0.2 s at most
    assert heal_due(rig.sup, rig.sup.faults, holders.alive) == []
    rig.clock.advance(0.2)
    done = heal_due(rig.sup, rig.sup.faults, holders.alive)
    assert done == ["pause service-b-1: resumed (holder chaos (pid 77) is gone)"]
    assert rig.states()["service-b-1"] == "ready" and not rig.sup.faults.leases
    assert not rig.spawner.by_pid(rig.pid("service-b-1")).stopped
    healed = [e for e in rig.sup.feed.since(0) if str(e.kind) == "healed"]
    assert healed and "is gone" in healed[-1].detail


def test_a_killed_node_is_respawned_at_the_deadline(tmp_path: Path) -> None:
    rig, holders = ready(tmp_path), Holders()
    old = rig.pid("service-c-1")
    operations.kill(rig.sup, "service-c-1")
    rig.steps(2)
    hold(rig, "kill", "service-c-1", 5.0)
    rig.clock.advance(4.0)
    assert heal_due(rig.sup, rig.sup.faults, holders.alive) == []
    assert rig.states()["service-c-1"] == "killed"
    rig.clock.advance(1.0)
    assert heal_due(rig.sup, rig.sup.faults, holders.alive) == [
        "kill service-c-1: respawned (deadline passed)"]
    rig.steps(2)
    assert rig.states()["service-c-1"] == "ready" and rig.pid("service-c-1") != old


def test_a_released_lease_is_not_healed_and_heal_by_hand(tmp_path: Path) -> None:
    rig, holders = ready(tmp_path), Holders()
    first = hold(rig, "pause", "service-b-1", 1.0)
    assert rig.sup.faults.release(first) is not None
    assert rig.sup.faults.release(first) is None  # already released: said so
    rig.clock.advance(2.0)
    assert heal_due(rig.sup, rig.sup.faults, holders.alive) == []
    operations.kill(rig.sup, "service-d-1", "STOP")
    hold(rig, "pause", "service-d-1", 60.0)
    hold(rig, "partition", "service-e-1", 60.0)
    rows = rig.sup.faults.rows(rig.clock.monotonic(), holders.alive)
    assert [(r.kind, r.node, r.left_s, r.holder_alive) for r in rows] == [
        ("pause", "service-d-1", 60.0, True), ("partition", "service-e-1", 60.0, True)]
    with pytest.raises(UsageError, match="unknown target"):
        heal_now(rig.sup, rig.sup.faults, "service-z")
    healed = heal_now(rig.sup, rig.sup.faults, "service-d")  # a group names its nodes
    assert [(h.node, h.done) for h in healed] == [("service-d-1", "resumed")]
    healed = heal_now(rig.sup, rig.sup.faults, None)
    assert [(h.node, h.done) for h in healed] == [("service-e-1", "nothing to heal")]
    assert not rig.sup.faults.leases


def test_bad_leases_are_refused() -> None:
    book = FaultBook()
    for for_s in (0.0, -1.0, 1e9):
        with pytest.raises(UsageError):
            book.add("pause", "n", holder="x", holder_pid=None, holder_started=None,
                     for_s=for_s, now=0.0, wall=0.0)
    lease = book.add("pause", "n", holder="x", holder_pid=None, holder_started=None,
                     for_s=5.0, now=0.0, wall=0.0)
    assert book.due(4.9, lambda _p, _s: False) == []  # no holder pid: only the deadline
    assert [why for _l, why in book.due(5.0, lambda _p, _s: False)] == ["deadline passed"]
    assert lease.id not in book.leases
