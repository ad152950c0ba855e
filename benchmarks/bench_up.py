"""Benchmark: `rpcdemo up` time-to-ready, respawn-to-ready and `down` time (p50 of a few runs).

    python benchmarks/bench_up.py [--runs 3] [--respawns 3]

Every run uses a fresh HOME under /tmp and free ports, drives the real CLI as
subprocesses and ends with `rpcdemo down`. Prints one line per figure and a
JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpcdemo(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "resonate_rpc_cli", "--home", str(home), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"rpcdemo {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def node(home: Path, name: str) -> dict[str, Any]:
    nodes = json.loads(rpcdemo(home, "status", "--json").stdout)["nodes"]
    return dict(next(n for n in nodes if n["name"] == name))


def one_run(respawns: int) -> tuple[float, list[float], float]:
    root = Path(tempfile.mkdtemp(prefix="rpcb-"))
    home = root / "home"
    try:
        t0 = time.monotonic()
        rpcdemo(home, "up", "--detach", "--server-port", str(free_port()),
                "--gateway-port", str(free_port()))
        up_s = time.monotonic() - t0
        respawn_s = []
        for _ in range(respawns):
            before = node(home, "service-b-1")["incarnation"]
            t0 = time.monotonic()
            rpcdemo(home, "kill", "service-b", "--respawn")
            while True:
                now = node(home, "service-b-1")
                if now["incarnation"] > before and now["state"] == "ready":
                    break
                if time.monotonic() - t0 > 30:
                    raise SystemExit(f"service-b-1 not ready 30 s after respawn: {now}")
                time.sleep(0.02)
            respawn_s.append(time.monotonic() - t0)
        t0 = time.monotonic()
        rpcdemo(home, "down")
        return up_s, respawn_s, time.monotonic() - t0
    finally:
        subprocess.run([sys.executable, "-m", "resonate_rpc_cli", "--home", str(home), "down"],
                       capture_output=True, check=False, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--respawns", type=int, default=3)
    args = parser.parse_args()
    ups, respawns, downs = [], [], []
    for i in range(args.runs):
        up_s, respawn_s, down_s = one_run(args.respawns)
        ups.append(up_s)
        respawns.extend(respawn_s)
        downs.append(down_s)
        print(f"run {i + 1}: up {up_s:.2f}s, respawn " +
              ", ".join(f"{r:.2f}s" for r in respawn_s) + f", down {down_s:.2f}s", flush=True)
    summary = {
        "runs": args.runs,
        "up_to_ready_p50_s": round(statistics.median(ups), 3),
        "respawn_to_ready_p50_s": round(statistics.median(respawns), 3),
        "down_p50_s": round(statistics.median(downs), 3),
    }
    print(f"up to ready      p50 {summary['up_to_ready_p50_s']:.2f}s  (n={len(ups)})")
    print(f"respawn to ready p50 {summary['respawn_to_ready_p50_s']:.2f}s  (n={len(respawns)})")
    print(f"down             p50 {summary['down_p50_s']:.2f}s  (n={len(downs)})")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
