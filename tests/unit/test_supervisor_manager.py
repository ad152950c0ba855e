"""The supervision loop with fakes: start order, restarts, kill/respawn, pause, shutdown."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS
from resonate_rpc_cli.supervisor import operations
from resonate_rpc_cli.supervisor.node import BecameReady, Exited, RestartPolicy
from resonate_rpc_cli.supervisor.rows import Signalled
from tests.unit._supervisor_fakes import Rig, make_rig

ALL = ["server", "gateway", *(f"{g}-1" for g in SERVICE_GROUPS)]


def ready_rig(tmp_path: Path, **config: object) -> Rig:
    rig = make_rig(tmp_path, None, **config)
    rig.steps(4)
    assert rig.sup.all_ready(), rig.states()
    return rig


def kinds(rig: Rig, node: str) -> list[str]:
    return [str(e.kind) for e in rig.sup.feed.since(0) if e.node == node]


def test_server_starts_first_and_the_rest_only_once_it_is_ready(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.probe.slow.add("server")
    rig.steps(5)
    assert [p.spec.name for p in rig.spawner.procs] == ["server"]
    assert rig.states()["gateway"] == "pending"
    rig.probe.slow.clear()
    rig.steps(3)
    assert sorted(p.spec.name for p in rig.spawner.procs) == sorted(ALL)
    assert rig.sup.all_ready(), rig.states()


def test_every_child_gets_the_node_contract(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path, ttl_s=2.5, step_delay_s=0.5, delays={"service-b": 3.0})
    spec = rig.sup.nodes["service-b-1"].spec
    assert spec is not None
    env = spec.env
    assert env["RPCDEMO_HOME"] == str(tmp_path)
    assert env["RPCDEMO_PARENT_PID"] == "4242"
    assert env["RPCDEMO_NODE_NAME"] == "service-b-1"
    assert env["RPCDEMO_NODE_ID"] == spec.node_id and spec.node_id.startswith("id")
    assert env["RPCDEMO_TTL"] == "2.5"
    assert env["RPCDEMO_STEP_DELAY"] == "3.0"
    assert env["RPCDEMO_DELAY_MODE"] == "work"
    ready = tmp_path / "run/ready" / f"service-b-1.{spec.node_id}.json"
    assert env["RPCDEMO_READY_FILE"] == str(ready)
    assert spec.log == tmp_path / "logs/service-b-1.1.log"
    assert spec.argv[-2:] == ["-m", "services.service_b"]
    a = rig.sup.nodes["service-a-1"].spec
    assert a is not None and a.env["RPCDEMO_STEP_DELAY"] == "0.5"
    server = rig.sup.nodes["server"].spec
    assert server is not None and "--store" in server.argv and "RPCDEMO_HOME" in server.env


def test_a_node_that_exits_on_its_own_is_restarted_with_backoff(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    old = rig.sup.nodes["service-c-1"]
    old_id, old_pid = old.node_id, rig.pid("service-c-1")
    rig.exit("service-c-1", 1)
    rig.sup.step()
    assert old.state == "backoff" and old.pid is None
    rig.clock.advance(0.1)  # less than the first backoff (0.25 s)
    rig.sup.step()
    assert old.state == "backoff"
    rig.steps(4, dt=0.1)
    assert old.state == "ready", rig.states()
    assert old.restarts == 1 and old.incarnation == 2
    assert old.node_id != old_id and rig.pid("service-c-1") != old_pid
    assert kinds(rig, "service-c-1") == ["spawned", "ready", "exited", "restarting", "ready"]


def test_repeated_quick_failures_end_in_failed_and_no_more_restarts(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=RestartPolicy(max_quick_failures=3, base_backoff_s=0.1))
    rig.steps(4)
    for _ in range(3):
        rig.exit("service-d-1", 2)
        rig.steps(10, dt=0.5)
    node = rig.sup.nodes["service-d-1"]
    assert node.state == "failed", rig.states()
    spawned = len(rig.spawner.procs)
    rig.steps(20, dt=1.0)
    assert len(rig.spawner.procs) == spawned
    assert kinds(rig, "service-d-1")[-1] == "failed"


def test_a_failure_after_a_long_run_resets_the_count(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=RestartPolicy(max_quick_failures=2, quick_s=10))
    rig.steps(4)
    for _ in range(4):
        rig.clock.advance(30)  # a long healthy run before each crash
        rig.exit("service-e-1", 1)
        rig.steps(10, dt=0.5)
        assert rig.sup.nodes["service-e-1"].state == "ready", rig.states()
    assert rig.sup.nodes["service-e-1"].restarts == 4


def test_kill_with_respawn_starts_a_new_node_id_in_the_same_slot(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    pid, old_id = rig.pid("service-b-1"), rig.sup.nodes["service-b-1"].node_id
    result = operations.kill(rig.sup, "service-b", "KILL", respawn=True)
    assert result.killed == [Signalled("service-b-1", pid, "KILL")]
    assert result.respawn_pending == ["service-b-1"]
    assert (pid, signal.SIGKILL) in rig.signals.sent
    rig.steps(3)
    node = rig.sup.nodes["service-b-1"]
    assert node.state == "ready" and node.node_id != old_id and node.restarts == 1
    assert kinds(rig, "service-b-1") == ["spawned", "ready", "killed", "exited", "respawned",
                                         "ready"]
    exited = [e for e in rig.sup.feed.since(0) if e.kind == "exited"]
    assert exited[0].pid == pid and exited[0].node_id == old_id


def test_respawn_after_waits(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    operations.kill(rig.sup, "service-b-1", respawn=True, respawn_after_s=2.0)
    rig.steps(10, dt=0.1)
    assert rig.sup.nodes["service-b-1"].state == "killed"
    rig.steps(15, dt=0.1)
    assert rig.sup.nodes["service-b-1"].state == "ready"


def test_a_killed_node_stays_down_until_respawned(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    operations.kill(rig.sup, "service-h")
    rig.steps(50, dt=1.0)
    assert rig.sup.nodes["service-h-1"].state == "killed"
    assert operations.respawn(rig.sup, "service-h") == ["service-h-1"]
    rig.steps(2)
    assert rig.sup.nodes["service-h-1"].state == "ready"
    with pytest.raises(UsageError, match="nothing to respawn"):
        operations.respawn(rig.sup, "service-h-1")


def test_unknown_target_lists_the_valid_ones(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    with pytest.raises(UsageError) as err:
        operations.kill(rig.sup, "service-z")
    assert "unknown target 'service-z'" in str(err.value)
    assert "service-b" in str(err.value) and "service-b-1" in str(err.value)
    with pytest.raises(UsageError, match="unknown signal"):
        operations.kill(rig.sup, "service-b", "HUP")


def test_stop_pauses_a_live_node_and_cont_resumes_it(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    pid = rig.pid("service-g-1")
    operations.kill(rig.sup, "service-g", "STOP")
    rig.steps(5)
    node = rig.sup.nodes["service-g-1"]
    assert node.state == "paused" and node.pid == pid
    with pytest.raises(UsageError, match="can take STOP"):
        operations.kill(rig.sup, "service-g", "STOP")
    operations.kill(rig.sup, "service-g", "CONT")
    assert node.state == "ready" and (pid, signal.SIGCONT) in rig.signals.sent


def test_term_that_is_ignored_is_followed_by_kill_after_grace(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path, grace_s=2.0)
    rig.signals.obey_term = False
    pid = rig.pid("service-a-1")
    operations.kill(rig.sup, "service-a", "TERM")
    rig.steps(10, dt=0.1)
    assert rig.sup.nodes["service-a-1"].pid == pid
    rig.steps(15, dt=0.1)
    assert (pid, signal.SIGKILL) in rig.signals.sent
    assert rig.sup.nodes["service-a-1"].pid is None


def test_count_limits_how_many_nodes_of_a_group(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    result = operations.kill(rig.sup, "service-i", count=1)
    assert len(result.killed) == 1


def test_shutdown_stops_nodes_before_the_server_and_kills_the_stubborn(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path, grace_s=1.0)
    server_pid = rig.pid("server")
    stubborn = rig.pid("service-f-1")
    rig.spawner.by_pid(stubborn).stopped = True  # a stopped process ignores TERM here
    operations.kill(rig.sup, "service-c")  # already down: must not block shutdown
    rig.sup.shutdown()
    rig.sup.step()
    term_pids = [pid for pid, sig in rig.signals.sent if sig == signal.SIGTERM]
    assert server_pid not in term_pids and len(term_pids) == len(ALL) - 2
    rig.steps(30, dt=0.1)
    assert (stubborn, signal.SIGKILL) in rig.signals.sent
    assert (server_pid, signal.SIGTERM) in rig.signals.sent
    assert rig.sup.done(), rig.states()
    assert set(rig.states().values()) == {"stopped"}
    with pytest.raises(UsageError, match="shutting down"):
        operations.kill(rig.sup, "service-a")


def test_a_spawn_error_counts_as_a_quick_failure(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=RestartPolicy(max_quick_failures=2, base_backoff_s=0.1))
    rig.spawner.fail_names.add("gateway")
    rig.steps(20, dt=0.1)
    assert rig.sup.nodes["gateway"].state == "failed"
    assert any("could not start" in e.detail for e in rig.sup.feed.since(0))


def test_snapshot_has_the_status_keys(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    rig.clock.advance(3.0)
    row = next(r for r in rig.sup.snapshot() if r.name == "service-a-1")
    assert {"name", "group", "pid", "state", "restarts", "uptime_s"} <= set(row.to_dict())
    assert row.state == "ready" and row.uptime_s == pytest.approx(3.1, abs=0.2)


def test_replayed_history_quick_crashes_then_failed(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, policy=RestartPolicy(max_quick_failures=3, base_backoff_s=0.1))
    rig.steps(4)
    pids = []
    for _ in range(3):
        pids.append(rig.pid("service-d-1"))
        rig.sup.handle(Exited("service-d-1", pids[-1], 1))
        rig.clock.advance(1.0)
        rig.sup.step()  # the restart is due
        rig.sup.step()  # the new incarnation is ready
    assert len(set(pids)) == 3
    assert rig.states()["service-d-1"] == "failed"
    assert kinds(rig, "service-d-1") == [
        "spawned", "ready", "exited", "restarting", "ready", "exited", "restarting", "ready",
        "failed"]


def test_an_observation_about_an_earlier_incarnation_is_ignored(tmp_path: Path) -> None:
    rig = ready_rig(tmp_path)
    old = rig.pid("service-b-1")
    operations.kill(rig.sup, "service-b", respawn=True)
    rig.steps(2)
    new = rig.pid("service-b-1")
    assert new != old
    rig.sup.handle(Exited("service-b-1", old, -9))
    rig.sup.handle(BecameReady("service-b-1", old))
    assert rig.states()["service-b-1"] == "ready" and rig.pid("service-b-1") == new
    rig.sup.handle(Exited("no-such-node", 1, 0))  # unknown names too
