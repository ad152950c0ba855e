"""Chaos with network faults: partitions, delays and resets of service links, two at a time.

chaos starts its own topology (links on), partitions holders for longer than the
lease TTL, so steps re-run after their lease lapsed; the checker must still
pass (the version fence refuses the stale holder's late settle) and the report
counts those stale executions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_chaos_run import assert_proved
from tests.procs import short_home
from tests.unit._chaos_cli import invoke

pytestmark = pytest.mark.e2e


def test_partitions_delays_and_resets_lose_nothing(tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    with short_home() as home:
        code, out, err = invoke(
            "--home", str(home), "chaos", "--flows", "18", "--concurrency", "3",
            "--faults", "partition,delay,reset,kill", "--overlap", "2",
            "--interval", "0.3:1", "--down", "2.5:3.5", "--seed", "5", "--fault-count", "6",
            "--deadline", "90", "--ttl", "2", "--step-delay", "0.5",
            "--report", str(report_dir), "--json",
        )
    report = json.loads(out) if out.strip().startswith("{") else {}
    assert code == 0, (code, err[-3000:], out[-3000:])
    assert_proved(report)
    faults = report["faults"]
    assert faults["landed"] >= 0.9 * faults["planned"], report["fault_log"]
    for kind in ("partition", "delay", "reset"):
        assert faults["by_kind"].get(kind, 0) >= 1, faults
    network = report["network"]
    assert network["partitions"] == faults["by_kind"]["partition"], network
    assert network["fenced"] >= network["stale_ends"] >= 0
    assert (report_dir / "report.html").exists()
