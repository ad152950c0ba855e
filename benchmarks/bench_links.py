"""Benchmark: what the per-node link proxies cost, flow p50 with links vs ``--no-links``.

    python benchmarks/bench_links.py [--flows 150] [--rounds 3] [--delay-ms 0]

Each round starts the whole topology twice with the real CLI (``rpcdemo up
--detach``, fresh HOME under /tmp, free ports), once with ``--links`` and once
with ``--no-links`` (the default), in alternating order, and runs
``--flows`` await chains and as many fan-outs one after another through the
gateway (HTTP keep-alive, after 10 warm-up flows of each). Latency is the
gateway's answer time as the client sees it. ``--delay-ms N`` also runs a
round with ``rpcdemo net delay service-b Nms`` in force (the await chain
crosses service-b once: about 2N more per flow).

Target: flow p50 with links within 15% of ``--no-links``. Prints a line per
run, a table, and a JSON summary last. Every topology is stopped with
``rpcdemo down``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

TARGET = 0.15
CLI = [sys.executable, "-m", "resonate_rpc_cli"]
FLOWS = {"await-chain": "/await-chain", "fan-out": "/fan-out-workflow"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpcdemo(home: Path, *args: str, timeout: float = 120) -> str:
    env = {**os.environ, "RPCDEMO_HOME": str(home)}
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"rpcdemo {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr.strip()}")
    return done.stdout


def flow_times(gateway_port: int, route: str, n: int) -> list[float]:
    """Seconds per flow for ``n`` flows on ``route``, one after another, one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", gateway_port, timeout=60)
    times = []
    try:
        for i in range(n):
            body = json.dumps({"id": f"bench-{uuid.uuid4().hex[:12]}", "arg": i % 7 + 1})
            started = time.perf_counter()
            conn.request("POST", route, body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
            times.append(time.perf_counter() - started)
            if resp.status != 200:
                raise SystemExit(f"{route} answered {resp.status}: {payload[:200]!r}")
    finally:
        conn.close()
    return times


def one_run(mode: str, flows: int, delay_ms: float) -> dict[str, list[float]]:
    root = Path(tempfile.mkdtemp(prefix="rpcd-bl-"))
    home = root / "home"
    gateway = free_port()
    args = ["up", "--detach", "--server-port", str(free_port()), "--gateway-port",
            str(gateway), "--memory"]
    args.append("--no-links" if mode == "no-links" else "--links")
    try:
        rpcdemo(home, *args)
        if delay_ms > 0:
            rpcdemo(home, "net", "delay", "service-b", f"{delay_ms:g}ms")
        out = {}
        for name, route in FLOWS.items():
            flow_times(gateway, route, 10)
            out[name] = flow_times(gateway, route, flows)
        return out
    finally:
        rpcdemo(home, "down")
        shutil.rmtree(root, ignore_errors=True)


def pct(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=150, help="flows of each shape per run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of links/no-links runs")
    ap.add_argument("--delay-ms", type=float, default=0.0,
                    help="also measure a run with `net delay service-b` of this many ms")
    args = ap.parse_args()
    samples: dict[str, dict[str, list[float]]] = {}
    modes = ["links", "no-links"]
    for r in range(args.rounds):
        for mode in modes if r % 2 == 0 else modes[::-1]:
            got = one_run(mode, args.flows, 0.0)
            for flow, xs in got.items():
                samples.setdefault(mode, {}).setdefault(flow, []).extend(xs)
            line = ", ".join(f"{f} p50 {statistics.median(xs) * 1000:.2f} ms"
                             for f, xs in got.items())
            print(f"round {r + 1} {mode:<8}: {line}", flush=True)
    if args.delay_ms > 0:
        mode = f"links+delay {args.delay_ms:g}ms"
        samples[mode] = one_run("links", args.flows, args.delay_ms)
    summary: dict[str, Any] = {"flows_per_run": args.flows, "rounds": args.rounds}
    print(f"\n{'mode':<22} {'flow':<12} {'p50 ms':>8} {'p90 ms':>8} {'vs no-links':>12}")
    for mode, by_flow in samples.items():
        for flow, xs in by_flow.items():
            p50 = statistics.median(xs)
            base = statistics.median(samples["no-links"][flow])
            print(f"{mode:<22} {flow:<12} {p50 * 1000:>8.2f} {pct(xs, 0.9) * 1000:>8.2f} "
                  f"{(p50 / base - 1) * 100:>+11.1f}%")
            summary[f"{mode}/{flow}"] = {"p50_ms": round(p50 * 1000, 3),
                                         "p90_ms": round(pct(xs, 0.9) * 1000, 3),
                                         "vs_no_links": round(p50 / base - 1, 4)}
    worst = max(summary[f"links/{f}"]["vs_no_links"] for f in FLOWS)
    verdict = "met" if worst < TARGET else "NOT met"
    print(f"\nlinks cost at p50: worst {worst * 100:+.1f}% (target < {TARGET * 100:.0f}%: "
          f"{verdict})")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
