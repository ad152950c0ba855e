"""The chaos checker on synthetic histories: a clean run passes, each defect turns it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from resonate_rpc_cli.chaos.checker import CheckOptions, check
from resonate_rpc_cli.chaos.measures import percentile
from resonate_rpc_cli.chaos.report import ChaosReport
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.contracts.payload import decode_payload
from tests.unit._chaos_synthetic import T0, Run, add_fault, add_flow, clean_run, enc

REPORT_KEYS = {
    "verdict", "seed", "flows", "detached", "steps", "faults", "recovery_s",
    "pending_after_heal", "orphans",
}


def judge(run: Run, orphans: int = 0, **opts: Any) -> ChaosReport:
    options = CheckOptions(seed=7, planned_faults=len(run.faults), **opts)
    return check(run.ops(), run.ledger, run.records(), run.faults,
                 options=options, orphans=orphans)


def test_clean_run_passes_with_the_contract_keys() -> None:
    report = judge(clean_run())
    assert report["verdict"] == "pass", report["reasons"]
    assert report.keys() >= REPORT_KEYS
    assert report["flows"] == {
        "requested": 9, "attempted": 9, "completed": 9, "lost": 0, "wrong": 0, "unknown": 0,
        "failed": 0, "resent": 0, "unanswered": 0,
        "by_kind": {k: {"attempted": 3, "completed": 3}
                                 for k in ("await-chain", "detached-chain", "fan-out")},
    }
    assert report["flows"].keys() >= {"attempted", "completed", "lost", "wrong", "unknown"}
    assert report["detached"] == {"started": 3, "cog_ran": 3}
    assert report["steps"]["executions"] == 27
    assert report["steps"]["reexecuted_before_settle"] == 0
    assert report["steps"]["reexecuted_after_settle"] == 0
    assert report["faults"]["landed"] == 3 and report["faults"]["mid_step"] == 1
    assert report["faults"]["by_kind"] == {"gateway": 1, "kill": 1, "pause": 1}
    assert report["faults"]["by_target"] == {"gateway": 1, "service-b-1": 1, "service-h-1": 1}
    assert report["pending_after_heal"] == 0 and report["orphans"] == 0
    # the kill held a task of the first await chain (answered at T0+70): 55 ms to recover;
    # the gateway kill at T0+900 fell between flows, so it is not measured
    assert report["recovery_s"]["max"] == 0.055
    assert report["recovery_s"]["measured"] == 2 and report["recovery_s"]["unrecovered"] == 0


def test_lost_flow_fails() -> None:
    run = clean_run()
    pid = "chaos-await-chain-1"
    run.promises[pid]["state"] = "pending"
    del run.promises[pid]["settledAt"]
    # the gateway never answered: the workload re-sent it and got only unknowns
    run.history._ops = [o for o in run.ops() if not (o.promise_id == pid and o.type == "ok")]
    run.history.record("info", 0, "await-chain", pid, 2, error="gateway died", time_ms=T0 + 10)
    run.history.record("invoke", 0, "await-chain", pid, 2, attempt=2, time_ms=T0 + 20)
    run.history.record("info", 0, "await-chain", pid, 2, attempt=2, error="timeout",
                       time_ms=T0 + 30)
    report = judge(run)
    assert report["verdict"] == "fail"
    assert report["flows"]["lost"] == 1 and report["flows"]["resent"] == 1
    assert report["problems"]["lost"] == [pid]
    assert report["pending_after_heal"] == 1


def test_acknowledged_detached_chain_unknown_to_the_server_is_lost() -> None:
    run = clean_run()
    pid = "chaos-detached-chain-2"
    for key in [k for k in run.promises if k.startswith(pid)]:
        del run.promises[key]
    run.ledger = [e for e in run.ledger if not e.promise_id.startswith(pid)]
    report = judge(run)
    assert report["verdict"] == "fail"
    assert report["flows"]["lost"] == 1
    assert report["detached"] == {"started": 3, "cog_ran": 2}


def test_wrong_gateway_answer_fails() -> None:
    run = clean_run()
    ops = run.ops()
    i = next(n for n, o in enumerate(ops) if o.type == "ok" and o.flow == "fan-out")
    run.history._ops[i] = replace(ops[i], value=ops[i].value + 1)
    report = judge(run)
    assert report["verdict"] == "fail"
    assert report["flows"]["wrong"] == 1
    assert "gateway said" in report["problems"]["wrong"][0]


def test_wrong_root_value_on_the_server_fails() -> None:
    run = clean_run()
    run.promises["chaos-detached-chain-0"]["value"] = enc(999)
    report = judge(run)
    assert report["verdict"] == "fail" and report["flows"]["wrong"] == 1


def test_wrong_step_value_in_the_ledger_fails() -> None:
    run = clean_run()
    i = next(n for n, e in enumerate(run.ledger) if e.func == "dop" and e.phase == "end")
    run.ledger[i] = replace(run.ledger[i], value=-1)
    report = judge(run)
    assert report["verdict"] == "fail" and report["flows"]["wrong"] == 1
    assert "dop returned -1" in report["problems"]["wrong"][0]


def _rerun(run: Run, func: str, pid: str, at_ms: float) -> None:
    first = next(e for e in run.ledger
                 if e.func == func and e.phase == "start" and e.promise_id.startswith(pid))
    run.ledger.append(LedgerEntry(
        ts=at_ms / 1000, phase="start", node="service-b-2", node_id="y", os_pid=2,
        group=first.group, func=func, promise_id=first.promise_id, step_id=first.step_id,
        arg=first.arg,
    ))


def test_reexecution_after_the_step_settled_fails() -> None:
    run = clean_run()
    pid = "chaos-await-chain-0"
    settled = run.promises[pid + ":2.1"].get("settledAt") or 0
    _rerun(run, "bar", pid, settled + 1)
    report = judge(run)
    assert report["verdict"] == "fail"
    assert report["steps"]["reexecuted_after_settle"] == 1
    assert report["steps"]["executions"] == 28
    assert "bar started on service-b-2" in report["problems"]["reexecuted_after_settle"][0]


def test_reexecution_within_the_same_millisecond_as_settle_is_not_after() -> None:
    run = clean_run()
    pid = "chaos-await-chain-0"
    settled = run.promises[pid + ":2.1"].get("settledAt") or 0
    _rerun(run, "bar", pid, settled + 0.9)  # floor() puts it in the settle's own ms
    report = judge(run)
    assert report["steps"]["reexecuted_after_settle"] == 0
    assert report["steps"]["reexecuted_before_settle"] == 1


def test_reexecution_before_settle_is_allowed_and_counted() -> None:
    run = clean_run()
    pid = "chaos-fan-out-1"
    first = next(e for e in run.ledger if e.func == "rax" and e.promise_id.startswith(pid))
    _rerun(run, "rax", pid, first.ts * 1000 + 1)
    report = judge(run)
    assert report["verdict"] == "pass", report["reasons"]
    assert report["steps"]["reexecuted_before_settle"] == 1
    assert report["steps"]["reexecuted_after_settle"] == 0


def test_missing_cog_fails() -> None:
    run = clean_run()
    pid = "chaos-detached-chain-1"
    run.ledger = [e for e in run.ledger if not (e.func == "cog" and e.promise_id.startswith(pid))]
    del run.promises[pid + ":d2"], run.promises[pid + ":d2.1"]
    report = judge(run)
    assert report["verdict"] == "fail"
    assert report["detached"] == {"started": 3, "cog_ran": 2}
    assert report["problems"]["cog_missing"] == [pid]


def test_too_few_faults_is_unknown() -> None:
    run = clean_run()
    run.faults[2].landed = False
    report = judge(run)
    assert report["verdict"] == "unknown"
    assert report["faults"] == {"planned": 3, "landed": 2, "mid_step": 1,
                                "by_kind": {"kill": 1, "pause": 1},
                                "by_target": {"service-b-1": 1, "service-h-1": 1}}
    assert "fewer than 3" in report["reasons"][0]
    assert judge(run, min_faults=2)["verdict"] == "pass"


def test_a_flow_kind_that_never_completed_is_unknown() -> None:
    run = Run()
    add_flow(run, "await-chain", "chaos-a-0", 1, T0)
    for n in range(3):
        add_fault(run, n, "kill", "service-a-1", T0 + n)
    report = judge(run, mix=("await-chain", "fan-out"))
    assert report["verdict"] == "unknown"
    assert report["coverage"]["kinds_missing"] == ["fan-out"]
    assert judge(run, mix=("await",))["verdict"] == "pass"


def test_pending_promise_after_heal_fails() -> None:
    run = clean_run()
    run.promises["chaos-fan-out-0:9"] = {"id": "chaos-fan-out-0:9", "state": "pending",
                                         "value": None, "tags": {}, "createdAt": T0}
    report = judge(run)
    assert report["verdict"] == "fail"
    assert report["pending_after_heal"] == 1
    assert report["problems"]["pending"] == ["chaos-fan-out-0:9"]


def test_promises_and_ledger_of_other_runs_are_ignored() -> None:
    run = clean_run()
    run.promises["other-run:1"] = {"id": "other-run:1", "state": "pending", "tags": {}}
    run.ledger.append(LedgerEntry(ts=1.0, phase="start", node="a", node_id="b", os_pid=1,
                                  group="g", func="foo", promise_id="other-run", step_id="x",
                                  arg=1))
    assert judge(run)["verdict"] == "pass"


def test_orphans_fail() -> None:
    report = judge(clean_run(), orphans=2)
    assert report["verdict"] == "fail" and report["orphans"] == 2


def test_rejected_root_is_a_failed_flow() -> None:
    run = clean_run()
    run.promises["chaos-fan-out-2"]["state"] = "rejected"
    report = judge(run)
    assert report["verdict"] == "fail"
    assert report["flows"]["failed"] == 1 and report["flows"]["completed"] == 8


def test_flow_never_acknowledged_nor_known_is_indeterminate() -> None:
    run = clean_run()
    run.history.record("invoke", 1, "fan-out", "chaos-x", 5, time_ms=T0 + 5000)
    run.history.record("info", 1, "fan-out", "chaos-x", 5, error="refused", time_ms=T0 + 5001)
    report = judge(run)
    assert report["verdict"] == "unknown"
    assert report["flows"]["unknown"] == 1 and report["flows"]["lost"] == 0


def test_latency_splits_flows_hit_by_faults() -> None:
    report = judge(clean_run())
    lat = report["latency_ms"]
    assert lat["all"]["count"] == 9
    assert lat["with_faults"]["count"] + lat["without_faults"]["count"] == 9
    assert lat["with_faults"]["count"] >= 1 and lat["without_faults"]["count"] >= 1


def test_decode_value_and_percentile() -> None:
    assert decode_payload(enc(42)) == 42
    assert decode_payload({"headers": None, "data": None}) is None
    assert decode_payload({"data": "not base64!"}) == "not base64!"
    assert decode_payload(7) == 7
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 99) == 99.0


@pytest.mark.parametrize("flow", ["await-chain", "detached-chain", "fan-out"])
def test_each_flow_alone_passes_when_coverage_allows(flow: str) -> None:
    run = Run()
    add_flow(run, flow, "chaos-1", 4, T0)
    assert judge(run, mix=(flow,), min_faults=0)["verdict"] == "pass"


def test_completed_on_the_server_without_an_answer_is_unanswered_not_lost() -> None:
    run = clean_run()
    pid = "chaos-fan-out-0"
    run.history._ops = [o for o in run.ops() if not (o.promise_id == pid and o.type == "ok")]
    run.history.record("info", 0, "fan-out", pid, 1, error="TimeoutError", time_ms=T0 + 99)
    report = judge(run)
    assert report["verdict"] == "pass", report["reasons"]
    assert report["flows"]["unanswered"] == 1 and report["flows"]["completed"] == 9


def test_flows_never_started_before_the_deadline_make_it_unknown() -> None:
    report = judge(clean_run(), requested_flows=12)
    assert report["verdict"] == "unknown"
    assert report["flows"]["requested"] == 12 and report["flows"]["attempted"] == 9
    assert "only 9 of 12 flows were started" in report["reasons"][0]


def test_answered_flow_the_server_forgot_is_lost() -> None:
    run = clean_run()
    pid = "chaos-await-chain-2"
    for key in [k for k in run.promises if k.startswith(pid)]:
        del run.promises[key]
    report = judge(run)
    assert report["verdict"] == "fail"
    assert report["flows"]["lost"] == 1 and report["problems"]["lost"] == [pid]
