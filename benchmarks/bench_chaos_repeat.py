"""Benchmark: the seed-11 chaos command of issue 18, repeated on fresh topologies.

    python benchmarks/bench_chaos_repeat.py [--runs N] [--keep]

Each run: a fresh temporary HOME, ``rpcdemo up --detach --ttl 3`` (on free
loopback ports), then exactly

    rpcdemo chaos --flows 24 --concurrency 4 --faults kill,pause,gateway --seed 11 --json

against it, then ``rpcdemo down`` and the HOME removed (``--keep``: kept when
a run does not pass, and its path printed). Prints one line per run (verdict,
reasons, the server-side invariants: journal events, two live leases,
settled promises changed), then the pass count. Exit 0 when every run passed.
Issue 18 measured 4 of 5 on the code before it (a completed step ran twice:
two leases on one task); the target is 20 of 20.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHAOS = ["chaos", "--flows", "24", "--concurrency", "4", "--faults", "kill,pause,gateway",
         "--seed", "11", "--json"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpcdemo(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "resonate_rpc_cli", "--home", str(home), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL, env=dict(os.environ))


def one_run(index: int, keep: bool) -> tuple[bool, str]:
    root = Path(tempfile.mkdtemp(prefix="rpcdemo-chaos-repeat-"))
    home = root / "home"
    passed = False
    try:
        up = rpcdemo(home, "up", "--detach", "--ttl", "3", "--server-port", str(free_port()),
                     "--gateway-port", str(free_port()), timeout=120)
        if up.returncode != 0:
            return False, f"run {index}: up failed ({up.returncode}): {up.stderr.strip()[-300:]}"
        started = time.monotonic()
        proc = rpcdemo(home, *CHAOS)
        took = time.monotonic() - started
        report = _report(proc.stdout)
        if report is None:
            return False, (f"run {index}: chaos exit {proc.returncode}, no report: "
                           f"{proc.stderr.strip()[-300:]}")
        passed = report.get("verdict") == "pass" and proc.returncode == 0
        inv = report.get("invariants") or {}
        return passed, (
            f"run {index}: {report.get('verdict')} (exit {proc.returncode}, {took:.0f} s) "
            f"flows {report['flows']['completed']}/{report['flows']['attempted']}, "
            f"faults landed {report['faults']['landed']}, re-executed after settle "
            f"{report['steps']['reexecuted_after_settle']}; server journal "
            f"{inv.get('events', 0)} events, two live leases {inv.get('two_live_leases')}, "
            f"settled changed {inv.get('settled_promise_changed')}"
            + (f"; reasons: {report.get('reasons')}" if report.get("reasons") else ""))
    finally:
        rpcdemo(home, "down", timeout=120)
        if keep and not passed:
            print(f"  kept {root}", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)


def _report(stdout: str) -> dict[str, Any] | None:
    start = stdout.find("{")
    if start < 0:
        return None
    try:
        report: dict[str, Any] = json.loads(stdout[start:])
    except ValueError:
        return None
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--keep", action="store_true", help="keep the HOME of a run that fails")
    args = p.parse_args()
    passes = 0
    started = time.monotonic()
    for i in range(1, args.runs + 1):
        ok, line = one_run(i, args.keep)
        passes += ok
        print(line, flush=True)
    print(f"passed {passes} of {args.runs} runs in {time.monotonic() - started:.0f} s "
          f"(issue 18, before: 4 of 5; target: all)", flush=True)
    return 0 if passes == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
