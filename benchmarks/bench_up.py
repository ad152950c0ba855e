"""Benchmark: `up` time-to-ready, respawn-to-ready and `down`, plain spawn vs fork server.

    python benchmarks/bench_up.py [--runs 3] [--respawns 5] [--modes plain,fork]

Every run uses a fresh HOME under /tmp and free ports, drives the real CLI as
subprocesses and ends with `rpcdemo down`. Modes: `plain` sets
`RPCDEMO_SPAWN=plain` (every node is a fresh `python -m`, the "before"),
`fork` is the default (nodes are forked by the fork server, the "after").

* up: wall time of `rpcdemo up --detach` (the whole CLI, all eleven processes
  ready), and the supervisor-side part `elapsed_s` from its JSON.
* respawn: `rpcdemo kill service-b --respawn`; time from the supervisor's
  `killed` event to the new incarnation's `ready` event (both stamped by the
  supervisor), plus the CLI's wall time for the whole command.

Targets on a 2-core machine: respawn-to-ready < 50 ms, `up` < 1.5 s. Prints a
line per run, a table, and a JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

UP_TARGET_S = 1.5
RESPAWN_TARGET_S = 0.050


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpcdemo(home: Path, env: dict[str, str], *args: str,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "resonate_rpc_cli", "--home", str(home), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"rpcdemo {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def status(home: Path, env: dict[str, str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(rpcdemo(home, env, "status", "--json").stdout)
    return doc


def respawn_once(home: Path, env: dict[str, str]) -> tuple[float, float]:
    """(killed -> ready of the new incarnation, per the supervisor; CLI wall time)."""
    seq = max((e["seq"] for e in status(home, env)["events"]), default=0)
    t0 = time.monotonic()
    rpcdemo(home, env, "kill", "service-b", "--respawn")
    cli_s = time.monotonic() - t0
    deadline = time.monotonic() + 30
    while True:
        events = [e for e in status(home, env)["events"] if e["seq"] > seq
                  and e["node"] == "service-b-1"]
        killed = next((e for e in events if e["kind"] == "killed"), None)
        ready = next((e for e in events if e["kind"] == "ready"), None)
        if killed is not None and ready is not None:
            return float(ready["ts"] - killed["ts"]), cli_s
        if time.monotonic() > deadline:
            raise SystemExit(f"service-b-1 not ready 30 s after respawn: {events}")
        time.sleep(0.05)


def one_run(mode: str, respawns: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="rpcb-"))
    home = root / "home"
    env = dict(os.environ)
    env.pop("RPCDEMO_SPAWN", None)
    if mode == "plain":
        env["RPCDEMO_SPAWN"] = "plain"
    try:
        t0 = time.monotonic()
        up = rpcdemo(home, env, "up", "--detach", "--json", "--server-port", str(free_port()),
                     "--gateway-port", str(free_port()))
        up_s = time.monotonic() - t0
        up_daemon_s = float(json.loads(up.stdout)["elapsed_s"])
        results = [respawn_once(home, env) for _ in range(respawns)]
        t0 = time.monotonic()
        rpcdemo(home, env, "down")
        return {"up_s": up_s, "up_daemon_s": up_daemon_s,
                "respawn_s": [r for r, _ in results], "respawn_cli_s": [c for _, c in results],
                "down_s": time.monotonic() - t0}
    finally:
        subprocess.run([sys.executable, "-m", "resonate_rpc_cli", "--home", str(home), "down"],
                       capture_output=True, check=False, timeout=60, env=env)
        shutil.rmtree(root, ignore_errors=True)


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--respawns", type=int, default=5)
    parser.add_argument("--modes", default="plain,fork")
    args = parser.parse_args()
    summary: dict[str, dict[str, Any]] = {}
    for mode in args.modes.split(","):
        runs = []
        for i in range(args.runs):
            run = one_run(mode, args.respawns)
            runs.append(run)
            respawn_ms = ", ".join(f"{r * 1000:.0f}" for r in run["respawn_s"])
            print(f"{mode:<5} run {i + 1}: up {run['up_s']:.2f}s "
                  f"(supervisor {run['up_daemon_s']:.2f}s), respawn-to-ready {respawn_ms} ms, "
                  f"down {run['down_s']:.2f}s", flush=True)
        summary[mode] = {
            "runs": args.runs,
            "up_p50_s": p50([r["up_s"] for r in runs]),
            "up_supervisor_p50_s": p50([r["up_daemon_s"] for r in runs]),
            "respawn_to_ready_p50_ms": round(
                1000 * statistics.median(x for r in runs for x in r["respawn_s"]), 1),
            "respawn_to_ready_max_ms": round(
                1000 * max(x for r in runs for x in r["respawn_s"]), 1),
            "kill_respawn_cli_p50_s": p50([x for r in runs for x in r["respawn_cli_s"]]),
            "down_p50_s": p50([r["down_s"] for r in runs]),
        }
    print()
    print(f"{'mode':<6}{'up p50':>9}{'(supervisor)':>14}{'respawn->ready p50':>20}"
          f"{'max':>9}{'kill --respawn CLI':>20}{'down p50':>10}")
    for mode, s in summary.items():
        print(f"{mode:<6}{s['up_p50_s']:>8.2f}s{s['up_supervisor_p50_s']:>13.2f}s"
              f"{s['respawn_to_ready_p50_ms']:>17.1f} ms{s['respawn_to_ready_max_ms']:>6.0f} ms"
              f"{s['kill_respawn_cli_p50_s']:>19.2f}s{s['down_p50_s']:>9.2f}s")
    if "fork" in summary:
        s = summary["fork"]
        print(f"targets (fork): up < {UP_TARGET_S} s "
              f"{'met' if s['up_p50_s'] < UP_TARGET_S else 'MISSED'}, respawn-to-ready < "
              f"{RESPAWN_TARGET_S * 1000:.0f} ms "
              f"{'met' if s['respawn_to_ready_p50_ms'] < RESPAWN_TARGET_S * 1000 else 'MISSED'}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
