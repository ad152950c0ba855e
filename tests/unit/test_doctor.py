"""The doctor's diagnosis over fake facts: every cause, the walk, and what "stuck" means."""

from __future__ import annotations

from resonate_rpc_cli.contracts.record import replace
from resonate_rpc_cli.observe.doctor import Diagnosis, attempts_of, diagnose, stuck_count
from resonate_rpc_cli.observe.facts import Attempts, Call, Facts, Fault, Lease, Link, Member

NOW = 1_000_000


def call(pid: str, func: str, group: str | None, parent: str | None = None, *,
         kind: str = "call", state: str = "pending", created: int = NOW - 1000,
         settled: int | None = None, timeout: int = NOW + 3_600_000) -> Call:
    return Call(pid, state, func, parent, group, kind, created, settled, timeout)


def member(name: str, group: str, state: str = "ready", node_id: str | None = None,
           past: tuple[str, ...] = ()) -> Member:
    return Member(name, group, state, 100 + len(name), node_id or f"id-{name}", past,
                  f"/h/logs/{name}.1.log")


CHAIN = {
    "ac": call("ac", "foo", "service-a"),
    "ac:1": call("ac:1", "bar", "service-b", "ac"),
    "ac:1.1": call("ac:1.1", "baz", "service-c", "ac:1"),
    "ac:1.1.1": call("ac:1.1.1", "(run)", None, "ac:1.1", kind="run"),
}
MEMBERS = [member("service-a-1", "service-a"), member("service-b-1", "service-b"),
           member("service-c-1", "service-c")]


def facts(calls: dict[str, Call] | None = None, leases: dict[str, Lease] | None = None,
          members: list[Member] | None = None, **kw: object) -> Facts:
    base = Facts(
        calls=CHAIN if calls is None else calls,
        leases={"ac": Lease("ac", "suspended"), "ac:1": Lease("ac:1", "suspended"),
                "ac:1.1": Lease("ac:1.1", "acquired", "id-service-c-1", 5000,
                                expires_ms=NOW + 3200, changed_ms=NOW - 500)}
        if leases is None else leases,
        members=MEMBERS if members is None else members, now_ms=NOW, stuck_after_s=5.0,
        command="rpcdemo --home /h",
    )
    return replace(base, **kw)


def root(diags: list[Diagnosis]) -> Diagnosis:
    return next(d for d in diags if d.promise_id == "ac")


def test_a_live_holder_making_progress_is_running_not_stuck() -> None:
    diags = diagnose(facts())
    assert [d.promise_id for d in diags] == ["ac", "ac:1", "ac:1.1"]  # no (run) line
    d = root(diags)
    assert [h.id for h in d.path] == ["ac", "ac:1", "ac:1.1"]
    assert d.cause.kind == "running" and not d.stuck
    assert d.line().startswith("waiting on ac:1 (bar@service-b), which is waiting on ac:1.1 "
                               "(baz@service-c): running on service-c-1")
    assert stuck_count(diags) == 0
    assert d.short().startswith("at ac:1.1 (baz@service-c): running on service-c-1")


def test_no_progress_for_longer_than_the_threshold_is_stuck() -> None:
    old = {**CHAIN, "ac:1.1": replace(CHAIN["ac:1.1"], created_ms=NOW - 60_000),
           "ac:1.1.1": replace(CHAIN["ac:1.1.1"], created_ms=NOW - 59_000)}
    leases = facts().leases
    assert leases is not None
    stale = {**leases, "ac:1.1": replace(leases["ac:1.1"], changed_ms=NOW - 58_000)}
    d = root(diagnose(facts(old, stale)))
    assert d.cause.kind == "running" and d.stuck
    assert d.idle_s == 58.0 and "no progress for 58 s" in d.line()


def test_a_dead_holder_names_the_node_and_the_lease_countdown() -> None:
    dead = [MEMBERS[0], MEMBERS[1], member("service-c-1", "service-c", "killed",
                                           node_id="id-new", past=("id-service-c-1",))]
    d = root(diagnose(facts(members=dead)))
    assert d.cause.kind == "dead_holder" and d.stuck
    assert d.cause.node == "service-c-1" and d.cause.lease_left_s == 3.2
    assert "which is dead: the lease lapses in 3.2 s" in d.line()
    assert "service-c has no live member" in d.line()
    assert d.cause.command == "rpcdemo --home /h respawn service-c"


def test_a_paused_holder() -> None:
    paused = [*MEMBERS[:2], member("service-c-1", "service-c", "paused")]
    d = root(diagnose(facts(members=paused)))
    assert d.cause.kind == "paused_holder" and d.stuck
    assert "paused (SIGSTOP)" in d.line() and "lapses in 3.2 s" in d.line()


def test_a_group_scaled_to_zero_has_no_live_member_and_a_command_to_start_one() -> None:
    fan = {
        "fo": call("fo", "zim", "service-g"),
        "fo:1": call("fo:1", "rax", "service-h", "fo"),
        "fo:2": call("fo:2", "dop", "service-i", "fo", state="resolved", settled=NOW - 900),
    }
    leases = {"fo": Lease("fo", "suspended"), "fo:1": Lease("fo:1", "pending")}
    members = [member("service-g-1", "service-g"), member("service-i-1", "service-i")]
    d = diagnose(facts(fan, leases, members))[0]
    assert d.promise_id == "fo" and d.cause.kind == "no_live_member" and d.stuck
    assert "target group service-h has no live member (scaled to 0)" in d.line()
    assert d.cause.command == "rpcdemo --home /h scale service-h 1"


def test_a_fan_out_reports_its_worst_branch() -> None:
    fan = {
        "fo": call("fo", "zim", "service-g"),
        "fo:1": call("fo:1", "rax", "service-h", "fo"),
        "fo:2": call("fo:2", "dop", "service-i", "fo"),
    }
    leases = {"fo": Lease("fo", "suspended"),
              "fo:1": Lease("fo:1", "acquired", "id-service-h-1", changed_ms=NOW),
              "fo:2": Lease("fo:2", "pending")}
    members = [member("service-g-1", "service-g"), member("service-h-1", "service-h"),
               member("service-i-1", "service-i", "failed")]
    d = diagnose(facts(fan, leases, members))[0]
    assert d.path[-1].id == "fo:2" and d.cause.kind == "no_live_member"
    assert "all failed" in d.line() and d.cause.command == "rpcdemo --home /h respawn service-i"


def test_a_step_failing_on_every_attempt_quotes_the_log() -> None:
    att = {"ac:1.1": Attempts(starts=4, ends=0, last_ts=(NOW - 100) / 1000, node="service-c-1")}
    errors = {"service-c-1": ("/h/logs/service-c-1.1.log", "InjectedFailure: baz(1) always")}
    d = root(diagnose(facts(attempts=att, errors=errors)))
    assert d.cause.kind == "failing" and d.stuck and d.cause.attempts == 4
    assert "attempted 4 times on service-c-1 and keeps failing: InjectedFailure" in d.line()
    assert "/h/logs/service-c-1.1.log" in d.line()


def test_one_attempt_in_progress_is_running() -> None:
    att = {"ac:1.1": Attempts(starts=1, ends=0, last_ts=NOW / 1000, node="service-c-1")}
    d = root(diagnose(facts(attempts=att)))
    assert d.cause.kind == "running" and "step attempt 1" in d.line() and not d.stuck


def test_a_partitioned_link() -> None:
    d = root(diagnose(facts(links={"service-c-1": Link("partitioned")})))
    assert d.cause.kind == "partitioned" and "partitioned from the server" in d.line()
    assert d.stuck and d.cause.command == "rpcdemo --home /h net heal service-c-1"
    d = root(diagnose(facts(links={"service-c-1": Link("delayed", 200.0)})))
    assert d.cause.kind == "slowed" and "slowed by 200 ms" in d.line() and not d.stuck


def test_a_holder_outside_the_process_table_is_unknown_not_dead() -> None:
    d = root(diagnose(facts(members=MEMBERS[:2])))
    assert d.cause.kind == "unknown_holder" and "not in this topology's process table" in d.line()


def test_a_timer_is_sleeping_never_stuck() -> None:
    calls = {"x": call("x", "foo", "service-a", created=NOW - 600_000),
             "x:1": call("x:1", "(sleep)", None, "x", kind="sleep", created=NOW - 600_000,
                         timeout=NOW + 4000)}
    d = diagnose(facts(calls, {"x": Lease("x", "suspended")}))[0]
    assert d.cause.kind == "sleeping" and not d.stuck and "wakes it in 4.0 s" in d.line()


def test_a_passed_timeout_is_named() -> None:
    calls = {"x": call("x", "foo", "service-a", timeout=NOW - 2000)}
    d = diagnose(facts(calls, {"x": Lease("x", "pending")}))[0]
    assert d.cause.kind == "timed_out" and "passed 2.0 s ago" in d.line()


def test_without_task_search_the_holder_is_unknown() -> None:
    d = root(diagnose(replace(facts(), leases=None)))
    assert d.cause.kind == "unknown" and "no task.search" in d.line() and not d.stuck


def test_a_queued_task_with_live_members_waits_for_delivery() -> None:
    calls = {"x": call("x", "foo", "service-a")}
    d = diagnose(facts(calls, {"x": Lease("x", "pending")}))[0]
    assert d.cause.kind == "queued" and not d.stuck
    released = Lease("x", "pending", changed_ms=NOW - 1500, changed_by="release")
    d = diagnose(facts(calls, {"x": released}))[0]
    assert d.line().endswith("; its last holder's lease was released by failover 1.5 s ago")
    lapsed = Lease("x", "pending", changed_ms=NOW - 2000, changed_by="lapse")
    d = diagnose(facts(calls, {"x": lapsed}, members=MEMBERS[1:]))[0]
    assert d.cause.kind == "no_live_member"
    assert "nothing takes it until one starts; its last holder's lease lapsed 2.0 s ago" in d.line()


def test_only_one_promise() -> None:
    assert [d.promise_id for d in diagnose(facts(), only="ac:1")] == ["ac:1"]


def test_json_shape() -> None:
    doc = root(diagnose(facts())).to_dict()
    assert set(doc) == {"promise_id", "call", "stuck", "idle_s", "timeout_ms", "line", "path",
                        "cause"}
    assert doc["path"] == [{"id": "ac", "call": "foo@service-a"},
                           {"id": "ac:1", "call": "bar@service-b"},
                           {"id": "ac:1.1", "call": "baz@service-c"}]


def test_attempts_from_ledger_lines() -> None:
    got = attempts_of([("p", "start", 1.0, "n1"), ("p", "start", 2.0, "n2"),
                       ("q", "start", 1.0, "n"), ("q", "end", 1.5, "n")])
    assert got["p"] == Attempts(2, 0, 2.0, "n2") and got["q"] == Attempts(1, 1, 1.5, "n")


def test_a_dead_holder_with_a_live_group_mate_is_handed_over() -> None:
    members = [*MEMBERS[:2], member("service-c-1", "service-c", "killed", node_id="id-new",
                                    past=("id-service-c-1",)),
               member("service-c-2", "service-c")]
    d = root(diagnose(facts(members=members)))
    assert d.cause.kind == "dead_holder" and d.cause.command is None
    assert "a live member of service-c takes it" in d.line()


def test_a_child_settled_recently_is_progress() -> None:
    old = {"x": call("x", "zim", "service-g", created=NOW - 60_000),
           "x:1": call("x:1", "rax", "service-h", "x", state="resolved", created=NOW - 60_000,
                       settled=NOW - 1_000)}
    d = diagnose(facts(old, {"x": Lease("x", "acquired", "id-service-a-1")},
                       members=[member("service-a-1", "service-g")]))[0]
    assert d.idle_s == 1.0 and not d.stuck and d.cause.kind == "running"


def test_a_fault_whose_holder_is_gone_is_named_as_the_cause() -> None:
    paused = [*MEMBERS[:2], member("service-c-1", "service-c", "paused")]
    gone = {"service-c-1": Fault("pause", "chaos", 4242, holder_alive=False, left_s=51.0)}
    d = root(diagnose(facts(members=paused, faults=gone)))
    assert d.cause.kind == "abandoned_fault" and d.stuck
    assert "paused by a pause fault whose holder chaos (pid 4242) is gone" in d.line()
    assert d.cause.command == "rpcdemo --home /h heal service-c-1"
    cut = {"service-c-1": Fault("partition", "chaos", 4242, holder_alive=False, left_s=9.0)}
    d = root(diagnose(facts(links={"service-c-1": Link("partitioned")}, faults=cut)))
    assert d.cause.kind == "abandoned_fault" and "partitioned from the server" in d.line()
    # while its holder lives, the fault is the chaos run's business: the plain cause
    held = {"service-c-1": replace(gone["service-c-1"], holder_alive=True)}
    assert root(diagnose(facts(members=paused, faults=held))).cause.kind == "paused_holder"
