"""Chaos on a declared topology, without processes: the report of a scripted run of the
examples' flows (the generic verdict, the checks that applied, both views), and how HTTP
flows are named and compared (chaos/verdict.py, chaos/session.py)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from resonate_rpc_cli.chaos import orchestrator
from resonate_rpc_cli.chaos.history import FaultRecord, History
from resonate_rpc_cli.chaos.options import (
    ChaosOptions,
    FlowPlan,
    plan_flow,
    recorded_config,
    replay_options,
)
from resonate_rpc_cli.chaos.orchestrator import RunRecord
from resonate_rpc_cli.chaos.session import judge
from resonate_rpc_cli.chaos.verdict import StuckPromise, history_of, names_root
from resonate_rpc_cli.chaos.workload import flow_key
from resonate_rpc_cli.cli.topology_file import load_config_file
from resonate_rpc_cli.clients.app_flows import fill_id
from resonate_rpc_cli.clients.protocol import Payload, PromiseRecord
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.view.chaos_html import render_html
from resonate_rpc_cli.view.chaos_report import render_report

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
T0 = 1_800_000_000_000


def app_of(name: str) -> AppTopology:
    app = load_config_file(EXAMPLES / name / "rpcdemo.toml").app
    assert isinstance(app, AppTopology)
    return app


def enc(value: Any) -> Payload:
    return {"data": base64.b64encode(json.dumps(value).encode()).decode()}


def saga_record(values: dict[str, Any], *, stuck: list[StuckPromise] | None = None,
                landed: int = 3) -> RunRecord:
    """A run of each own-app flow once, each root resolved to ``values[flow]``."""
    app = app_of("own-app")
    options = ChaosOptions(flows=4, mix=app.flow_names, targets=app.group_names,
                           faults=("kill", "pause", "partition"), app=app, seed=3)
    history = History()
    plans: list[FlowPlan] = []
    promises: list[PromiseRecord] = []
    for n, flow in enumerate(app.flow_names):
        plan = FlowPlan(n, flow, f"chaos-t-{flow}-{n}", 0)
        plans.append(plan)
        history.record("invoke", 0, flow, plan.promise_id, 0, time_ms=T0 + n)
        history.record("ok", 0, flow, plan.promise_id, 0, value=values[flow], time_ms=T0 + 9)
        promises.append({"id": plan.promise_id, "state": "resolved",
                         "value": enc(values[flow]), "settledAt": T0 + 9})
    faults = [FaultRecord(i, "kill", "payments-1", "payments", 1.0, 1.0, at_ms=T0,
                          landed=True) for i in range(landed)]
    baseline = {flow_key("big-order", ["o-3", "gadget", 9]): RIGHT["big-order"],
                flow_key("quote", ["gadget", 3]): RIGHT["quote"]}
    return RunRecord(run_tag="t", options=options, schedule=options.schedule(), plans=plans,
                     history=history.ops(), faults=faults, ledger=[], promises=promises,
                     started_ms=T0, settled=True, baseline=baseline,
                     stuck=[] if stuck is None else stuck, journal=[])


RIGHT: dict[str, Any] = {
    "place-order": {"order": "o-1", "status": "confirmed", "charged": 20,
                    "reservation": "rs-o-1"},
    "sold-out": {"order": "o-2", "status": "cancelled", "refunded": 99,
                 "reason": "ApplicationError"},
    "big-order": {"order": "o-3", "status": "cancelled", "refunded": 225,
                  "reason": "ApplicationError"},
    "quote": {"sku": "gadget", "qty": 3, "total": 75, "in_stock": True},
}


def test_a_right_run_of_the_saga_passes_and_both_views_name_the_checks() -> None:
    report = judge(saga_record(RIGHT))
    assert report["verdict"] == "pass", report["reasons"]
    assert report["flows"]["completed"] == 4 and report["flows"]["lost"] == 0
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["wrong"]["note"] == "2 against expect, 2 against the fault-free baseline"
    assert checks["two_live_leases"]["applied"] and not checks["reexecuted_steps"]["applied"]
    assert report["latency_ms"]["all"]["count"] == 4  # invoke to answer, per flow
    page = render_html(report, [], [], [])
    assert "<h2>Checks</h2>" in page and "against the fault-free baseline" in page
    assert "not applied" in page  # the step helper's check, with why
    assert "checks" in _text(render_report(report))


def test_a_wrong_compensation_fails_against_expect_and_one_against_the_baseline() -> None:
    values = RIGHT | {"sold-out": RIGHT["sold-out"] | {"refunded": 0},
                      "quote": RIGHT["quote"] | {"total": 0}}
    report = judge(saga_record(values))
    assert report["verdict"] == "fail"
    assert report["flows"]["wrong"] == 2
    assert [p.split(":")[0] for p in report["problems"]["wrong"]] == [
        "chaos-t-sold-out-1", "chaos-t-quote-3"]


def test_stuck_promises_fail_with_their_cause_and_too_few_faults_are_unknown() -> None:
    stuck = [StuckPromise("chaos-t-quote-3:1", "no live member of inventory")]
    assert judge(saga_record(RIGHT, stuck=stuck))["problems"]["stuck"] == [
        "chaos-t-quote-3:1: no live member of inventory"]
    few = judge(saga_record(RIGHT, landed=1))
    assert few["verdict"] == "unknown" and "fewer than 3" in few["reasons"][0]


def test_options_on_a_declared_topology_refuse_undeclared_names_and_gateway_faults() -> None:
    app = app_of("own-app")
    with pytest.raises(UsageError, match="'nope' is not declared"):
        ChaosOptions(mix=("nope",), targets=app.group_names, faults=("kill",), app=app)
    with pytest.raises(UsageError, match="gateway faults"):
        ChaosOptions(mix=app.flow_names, targets=app.group_names, app=app)
    assert plan_flow(3, 5, app.flow_names, "t", seed_flows=False).flow in app.flow_names


def test_a_declared_run_replays_on_the_topology_file_it_recorded(tmp_path: Path) -> None:
    record = saga_record(RIGHT)
    (tmp_path / "report.json").write_text(json.dumps(judge(record)), encoding="utf-8")
    config = recorded_config(tmp_path)
    assert config == (EXAMPLES / "own-app" / "rpcdemo.toml").absolute()
    again = replay_options(tmp_path, app_of("own-app"))
    assert again.mix == record.options.mix and again.schedule() == record.schedule
    assert again.app is not None and again.app.name == "order-saga"


def test_http_flows_carry_their_id_and_compare_with_it_put_back() -> None:
    app = app_of("polyglot")
    spec = app.flow("await-chain")
    assert spec is not None and names_root(spec)
    assert fill_id(spec.body, "c-1") == {"id": "c-1", "arg": 3}
    history = History()
    history.record("invoke", 0, "await-chain", "c-1", 0)
    history.record("ok", 0, "await-chain", "c-1", 0, value={"id": "c-1", "message": 5})
    promises: list[PromiseRecord] = [{"id": "c-1", "state": "resolved", "value": enc(5)}]
    runs = history_of(app, [FlowPlan(0, "await-chain", "c-1", 0)], history.ops(), promises,
                      baseline=None, stuck=[], journal=None, ledger=[]).runs
    assert runs[0].outcome() == spec.expect == {"id": "{id}", "message": 5}


def _text(renderable: Any) -> str:
    console = Console(width=200, file=io.StringIO())
    console.print(renderable)
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def test_stuck_promises_carry_doctors_line_or_why_it_could_not_look(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    promises: list[PromiseRecord] = [{"id": "c-1", "state": "resolved"},
                                     {"id": "c-1:1", "state": "pending"}]
    assert orchestrator.stuck_promises(Home(tmp_path), promises[:1]) == []

    class Said:
        promise_id = "c-1:1"

        def line(self) -> str:
            return "no live member of payments"

    monkeypatch.setattr(orchestrator, "gather", lambda home: type("G", (), {"facts": None}))
    monkeypatch.setattr(orchestrator, "diagnose", lambda facts: [Said()])
    assert orchestrator.stuck_promises(Home(tmp_path), promises) == [
        StuckPromise("c-1:1", "no live member of payments")]

    def gone(home: Home) -> None:
        raise NotRunningError("the server is not answering")

    monkeypatch.setattr(orchestrator, "gather", gone)
    (stuck,) = orchestrator.stuck_promises(Home(tmp_path), promises)
    assert stuck.cause == "pending (doctor could not look: the server is not answering)"
