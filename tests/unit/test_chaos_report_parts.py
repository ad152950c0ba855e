"""Pure parts of the report: stale holders behind partitions, the page's drawing model,
the page itself, and reading a report back for a replay."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from resonate_rpc_cli.chaos.checker import CheckOptions, check
from resonate_rpc_cli.chaos.history import FaultRecord
from resonate_rpc_cli.chaos.measures import fenced_executions
from resonate_rpc_cli.chaos.options import ChaosOptions, replay_command, replay_options
from resonate_rpc_cli.chaos.report import ChaosReport
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.view.chaos_bound import BINS, bound_model
from resonate_rpc_cli.view.chaos_html import render_html
from resonate_rpc_cli.view.chaos_timeline import timeline_model
from tests.unit._chaos_synthetic import T0, Run, add_fault, add_flow, clean_run


def entry(ts_ms: int, phase: str, node: str, node_id: str, step: str) -> LedgerEntry:
    return LedgerEntry(ts=ts_ms / 1000, phase=phase, node=node, node_id=node_id, os_pid=1,
                       group=node.rsplit("-", 1)[0], func="foo", promise_id=step.partition(":")[0],
                       step_id=step, arg=1, value=None if phase == "start" else 2)


def partition(target: str, at_ms: int, healed_ms: int, held: list[str]) -> FaultRecord:
    return FaultRecord(index=0, kind="partition", target=target, group="service-b",
                       planned_at_s=0, down_s=1, at_ms=at_ms, landed=True, held=held,
                       healed_ms=healed_ms, targets=[target])


def test_a_partitioned_holder_whose_step_ran_elsewhere_is_counted() -> None:
    ledger = [
        entry(T0, "start", "service-b-1", "old", "r1:1"),         # cut off mid-step
        entry(T0 + 4000, "end", "service-b-1", "old", "r1:1"),    # finished after heal
        entry(T0 + 3000, "start", "service-b-2", "new", "r1:1"),  # re-ran elsewhere
        entry(T0 + 3100, "end", "service-b-2", "new", "r1:1"),
        entry(T0 + 100, "start", "service-b-1", "old", "r2:1"),   # never re-ran
        entry(T0 + 200, "start", "service-b-1", "old", "r4:1"),   # re-ran on the same node
        entry(T0 + 3600, "start", "service-b-1", "old", "r4:1"),  # once the link healed
        entry(T0 + 9000, "start", "service-b-1", "old", "r3:1"),  # after the heal
        entry(T0 + 9500, "start", "service-b-2", "new", "r3:1"),
    ]
    faults = [partition("service-b-1", T0 + 500, T0 + 3500, ["r1:1"])]
    got = fenced_executions(ledger, faults)
    assert got["partitions"] == 1 and got["partitioned_holders"] == 1
    assert got["fenced"] == 2 and got["stale_ends"] == 1, got
    assert got["examples"] == ["r1:1: foo on service-b-1", "r4:1: foo on service-b-1"]
    kill = FaultRecord(index=0, kind="kill", target="service-b-1", group="service-b",
                       planned_at_s=0, down_s=1, at_ms=T0 + 500, landed=True,
                       healed_ms=T0 + 3500)
    assert fenced_executions(ledger, [kill])["fenced"] == 0  # only partitions fence


def judged(run: Run) -> ChaosReport:
    return check(run.ops(), run.ledger, run.records(), run.faults,
                 options=CheckOptions(seed=1, min_faults=0))


def test_the_model_draws_a_bar_per_execution_and_a_band_per_landed_fault() -> None:
    run = clean_run()
    first = run.ledger[0]
    run.ledger.append(entry(int(first.ts * 1000) + 5, "start", "other-1", "x", first.step_id))
    add_fault(run, 7, "kill", "n-1", T0 + 20, held=[first.promise_id])
    add_fault(run, 8, "gateway", "gateway", T0 + 30, landed=False)
    report = judged(run)
    model = timeline_model(report, run.ops(), run.faults, run.ledger)
    starts = sum(1 for e in run.ledger if e.phase == "start")
    landed = sum(1 for f in run.faults if f.landed)
    assert landed == report["faults"]["landed"] == 4
    assert model["expect"] == {"bars": starts, "reexec": 1, "bands": landed}
    assert len(model["bars"]) == starts == report["steps"]["executions"]
    lanes = {lane["id"] for lane in model["lanes"]}
    assert {"server", "gateway", "other-1/x"} <= lanes
    assert all(b["lane"] in lanes for b in model["bars"])
    band = next(b for b in model["bands"] if b["index"] == 7)
    assert band["kind"] == "kill" and band["lanes"] and all(
        lane.startswith("n-1/") for lane in band["lanes"])
    assert [r["index"] for r in model["recovery"]] == [f.index for f in run.faults if f.landed]
    ok = sum(1 for op in run.ops() if op.type == "ok")
    assert len(model["latency"]) == ok and all(p["ms"] >= 0 for p in model["latency"])


def test_the_page_is_offline_and_embeds_the_history() -> None:
    run = clean_run()
    report = judged(run)
    page = render_html(report, run.ops(), run.faults, run.ledger)
    assert page.startswith("<!doctype html>") and "PASS" in page
    assert not re.search(r"(src|href)=[\"']?https?:", page), "nothing may load from the network"
    blob = re.search(r'<script type="application/json" id="rpcdemo-data">(.*?)</script>', page,
                     re.S)
    assert blob is not None
    data = json.loads(blob.group(1))
    assert len(data["history"]) == len(run.ops()) and len(data["ledger"]) == len(run.ledger)
    assert data["report"]["verdict"] == "pass"
    evil: ChaosReport = {**report, "reasons": ["</script><script>alert(1)</script>"]}
    assert "</script><script>alert" not in render_html(evil, run.ops(), [], run.ledger)


def write_report(directory: Path, options: ChaosOptions, issued: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    report = {"verdict": "fail", "run": {"options": options.to_dict(), "flows_issued": issued}}
    (directory / "report.json").write_text(json.dumps(report))


def test_replay_plays_the_same_options_and_at_least_the_same_flows(tmp_path: Path) -> None:
    options = ChaosOptions(flows=10, seed=77, faults=("kill", "partition", "delay"),
                           overlap=2, scopes=("one", "all"), duration_s=12.5, rate=4.0,
                           interval_s=(0.5, 1.5), fault_count=6)
    write_report(tmp_path / "r", options, issued=31)
    again = replay_options(tmp_path / "r")
    assert again.schedule() == options.schedule()
    assert again.flows == 31 and again.seed == 77 and again.overlap == 2
    assert (again.duration_s, again.rate, again.scopes) == (12.5, 4.0, ("one", "all"))
    cmd = replay_command(Home(tmp_path / "h o"), tmp_path / "r")
    assert cmd == f"rpcdemo --home '{tmp_path}/h o' chaos --replay {tmp_path}/r"


@pytest.mark.parametrize(("content", "message"), [
    (None, "no report.json"),
    ("{not json", "cannot read"),
    ('{"run": {}}', "records no run options"),
    ('{"run": {"options": {"flows": 1}}}', "malformed run options"),
])
def test_replay_of_a_bad_directory_is_a_usage_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "report.json").write_text(content)
    with pytest.raises(UsageError, match=message):
        replay_options(tmp_path)


def test_a_long_run_keeps_the_page_bounded_and_its_counts_true() -> None:
    """A ten-minute soak (10 flows/s): marks are aggregated, the page stays small, and the
    counts the page reports (sums of the aggregated marks' ``n``) still match."""
    run = Run()
    flows = 4_500
    for n in range(flows):
        add_flow(run, ("await-chain", "fan-out")[n % 2], f"chaos-long-{n}", n, T0 + n * 100)
    for i in range(50):
        add_fault(run, i, "kill", "n-1", T0 + i * 12_000)
    report = judged(run)
    model = bound_model(timeline_model(report, run.ops(), run.faults, run.ledger))
    assert model["aggregated"]["bars"] == report["steps"]["executions"]
    assert len(model["bars"]) + len(model["attempts"]) <= 4 * BINS
    assert sum(b["n"] for b in model["bars"]) == model["expect"]["bars"]
    assert sum(a["n"] for a in model["attempts"]) == flows
    assert len(model["bands"]) == 50 and len(model["latency"]) <= 2 * BINS
    page = render_html(report, run.ops(), run.faults, run.ledger)
    assert len(page.encode()) < 2_000_000, len(page.encode())
    assert "history.jsonl" in page


def test_a_short_run_is_drawn_mark_by_mark() -> None:
    run = clean_run()
    report = judged(run)
    model = timeline_model(report, run.ops(), run.faults, run.ledger)
    assert bound_model(model) is model
