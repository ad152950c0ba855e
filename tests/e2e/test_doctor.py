"""e2e: `rpcdemo doctor` names each cause produced for real, on one topology, in sequence.

One topology (lease TTL 60 s, renewed every 30 s, so a dead or paused holder's
lease outlives the checks; service-c's step takes 120 s; service-f fails on
every attempt):

1. an await chain merely slow at its leaf (baz@service-c): running, not stuck, exit 0;
   its holder's link partitioned (`rpcdemo net`), then healed;
2. SIGSTOP service-c: the chain three deep is stuck at its leaf, a paused holder,
   and the lease countdown decreases in successive `status --json`;
3. SIGKILL service-c (no respawn): a dead holder, lease countdown, the respawn command;
4. `scale service-h 0` while a fan-out waits on rax: no live member, the scale command;
5. the detached chain's cog raising on every attempt: the attempts, the log line, its path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._cli_support import Cli, running_topology
from tests.procs import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    # the partition case below breaks service-c's link (links are on by default)
    with running_topology("--ttl", "60", "--delay", "service-c=120",
                          env={"RPCDEMO_FAIL_ALWAYS": "service-f"}) as c:
        yield c


def start(cli: Cli, flow: str) -> str:
    """Start ``flow`` without waiting for it (its `run` times out at once, exit 1)."""
    proc = cli.run("run", flow, "--fresh", "--timeout", "0.5", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["state"] == "timeout", (doc, proc.stderr)
    return str(doc["promise_id"])


@pytest.fixture(scope="module")
def chain(cli: Cli) -> str:
    return start(cli, "await-chain")


def doctor(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    proc = cli.run("doctor", *args, "--json")
    assert proc.returncode in (0, 1), (proc.returncode, proc.stdout, proc.stderr)
    return proc.returncode, json.loads(proc.stdout)


def cause_of(cli: Cli, promise_id: str, kind: str) -> tuple[int, dict[str, Any]]:
    """Poll `doctor PROMISE_ID` until its leaf cause is ``kind``; (exit code, diagnosis)."""
    seen: list[Any] = []

    def probe() -> tuple[int, dict[str, Any]] | None:
        code, doc = doctor(cli, promise_id)
        diag = doc["diagnoses"][0]
        seen.append(diag["cause"]["kind"])
        return (code, diag) if diag["cause"]["kind"] == kind else None

    found = wait_until(probe, 60, f"doctor {promise_id} to say {kind} (saw {seen})", interval=0.2)
    assert found is not None
    return found


def test_a_slow_chain_is_running_not_stuck(cli: Cli, chain: str) -> None:
    code, diag = cause_of(cli, chain, "running")
    assert code == 0 and diag["stuck"] is False
    assert [h["call"] for h in diag["path"]] == ["foo@service-a", "bar@service-b",
                                                 "baz@service-c"]
    assert diag["cause"]["node"] == "service-c-1"
    text = cli.run("doctor")
    assert text.returncode == 0 and "0 stuck" in text.stdout, text.stdout


def test_a_partitioned_holder_is_named_and_healed(cli: Cli, chain: str) -> None:
    cli.json("net", "partition", "service-c")
    try:
        code, diag = cause_of(cli, chain, "partitioned")
        assert code == 1 and diag["cause"]["node"] == "service-c-1"
        assert diag["cause"]["command"].endswith("net heal service-c-1")
    finally:
        cli.json("net", "heal")
    code, diag = cause_of(cli, chain, "running")
    assert code == 0


def test_a_paused_leaf_holds_up_the_chain_and_its_lease_counts_down(cli: Cli, chain: str
                                                                    ) -> None:
    cli.json("kill", "service-c", "--signal", "STOP")
    leaf = f"{chain}:1.1"

    def lease_left() -> float:
        row = next(t for t in cli.json("status")["tasks"] if t["id"] == leaf)
        assert row["holder"] == "service-c-1" and row["attempts"] >= 1
        assert row["stuck"] is True and "paused" in row["cause"]
        return float(row["lease_left_s"])

    first = lease_left()
    second = wait_until(lambda: (v := lease_left()) < first and v, 20, "the countdown to drop")
    assert 0 < second < first <= 60
    code, diag = cause_of(cli, chain, "paused_holder")
    assert code == 1 and diag["stuck"] is True and len(diag["path"]) == 3
    assert diag["path"][-1]["id"] == leaf
    assert "paused (SIGSTOP)" in diag["line"] and "lease lapses in" in diag["line"]
    pending = {p["id"]: p for p in cli.json("status")["promises"]["pending"]}
    assert pending[chain]["stuck"] is True and "paused" in pending[chain]["cause"]
    tree = cli.json("tree", chain)
    assert tree["stuck"][chain].startswith(f"at {leaf} (baz@service-c): ")


def test_a_killed_leaf_is_a_dead_holder(cli: Cli, chain: str) -> None:
    cli.json("kill", "service-c")
    code, diag = cause_of(cli, chain, "dead_holder")
    assert code == 1 and "which is dead: the lease lapses in" in diag["line"]
    assert diag["cause"]["command"].endswith("respawn service-c")


def test_a_group_scaled_to_zero_has_no_live_member(cli: Cli) -> None:
    cli.json("scale", "service-h", "0")
    code, diag = cause_of(cli, start(cli, "fan-out"), "no_live_member")
    assert code == 1 and diag["path"][-1]["call"] == "rax@service-h"
    assert "service-h has no live member (scaled to 0)" in diag["line"]
    assert diag["cause"]["command"].endswith("scale service-h 1")


def test_a_step_failing_on_every_attempt_quotes_its_log(cli: Cli) -> None:
    root = cli.json("run", "detached-chain", "--fresh")["promise_id"]

    def failing() -> dict[str, Any] | None:
        code, doc = doctor(cli)
        for diag in doc["diagnoses"]:
            if diag["promise_id"].startswith(root) and diag["cause"]["kind"] == "failing":
                assert code == 1
                return dict(diag)
        return None

    diag = wait_until(failing, 60, f"cog of {root} to be named failing", interval=0.2)
    assert diag is not None
    cause = diag["cause"]
    assert diag["call"] == "cog@service-f" and cause["attempts"] >= 2
    assert "InjectedFailure" in cause["error"] and Path(cause["log"]).is_file()
    assert f"attempted {cause['attempts']} times on service-f-1" in diag["line"]


def test_bad_input_and_not_running(cli: Cli, tmp_path: Path) -> None:
    assert cli.run("doctor", "no-such-promise").returncode == 2
    assert cli.run("doctor", "--stuck-after", "0").returncode == 2
    empty = Cli(Path(os.path.relpath(tmp_path)), 0, 0)
    proc = empty.run("doctor")
    assert proc.returncode == 3 and proc.stderr.startswith("rpcdemo: "), proc.stderr
