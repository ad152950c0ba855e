"""Benchmark: what the per-node link proxies cost, flow p50 with links vs ``--no-links``.

    python benchmarks/bench_links.py [--flows 150] [--rounds 3] [--delay-ms 0]

Each round starts the whole topology twice with the real CLI (``rpcdemo up
--detach``, fresh HOME under /tmp, free ports), once with ``--links`` and
once with ``--no-links`` (the default), both at once, and runs ``--flows``
await chains and as many fan-outs through each gateway (HTTP keep-alive,
after 10 warm-up flows of each), alternating flow by flow between the two
topologies: on a machine whose load comes and goes, both see the same load.
Latency is the gateway's answer time as the client sees it. ``--delay-ms N``
also runs a round with ``rpcdemo net delay service-b Nms`` in force (the
await chain crosses service-b once: about 2N more per flow).

Target: flow p50 with links within 5% of ``--no-links``. Prints a line per
round, a table, and a JSON summary last. Every topology is stopped with
``rpcdemo down``. The code measured is the one ``sys.executable`` imports.
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

TARGET = 0.05
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


def one_flow(conn: http.client.HTTPConnection, route: str, i: int) -> float:
    """Seconds for one flow on ``route`` over ``conn``."""
    body = json.dumps({"id": f"bench-{uuid.uuid4().hex[:12]}", "arg": i % 7 + 1})
    started = time.perf_counter()
    conn.request("POST", route, body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    payload = resp.read()
    took = time.perf_counter() - started
    if resp.status != 200:
        raise SystemExit(f"{route} answered {resp.status}: {payload[:200]!r}")
    return took


def interleaved(gateways: dict[str, int], route: str, n: int) -> dict[str, list[float]]:
    """``n`` flows on ``route`` through each gateway, alternating (who goes first, too)."""
    conns = {mode: http.client.HTTPConnection("127.0.0.1", port, timeout=60)
             for mode, port in gateways.items()}
    times: dict[str, list[float]] = {mode: [] for mode in gateways}
    modes = list(gateways)
    try:
        for i in range(n):
            for mode in modes if i % 2 == 0 else modes[::-1]:
                times[mode].append(one_flow(conns[mode], route, i))
    finally:
        for conn in conns.values():
            conn.close()
    return times


def start(root: Path, mode: str) -> tuple[Path, int]:
    """A topology for ``mode`` (links, no-links); its HOME and gateway port."""
    home = root / mode
    gateway = free_port()
    rpcdemo(home, "up", "--detach", "--server-port", str(free_port()), "--gateway-port",
            str(gateway), "--memory", "--no-links" if mode == "no-links" else "--links")
    return home, gateway


def one_round(modes: list[str], flows: int, delay_ms: float) -> dict[str, dict[str, list[float]]]:
    """Flow times by mode, then flow shape, with every mode's topology up at once."""
    root = Path(tempfile.mkdtemp(prefix="rpcd-bl-"))
    homes: dict[str, Path] = {}
    try:
        gateways = {}
        for mode in modes:
            homes[mode], gateways[mode] = start(root, mode)
            if delay_ms > 0:
                rpcdemo(homes[mode], "net", "delay", "service-b", f"{delay_ms:g}ms")
        out: dict[str, dict[str, list[float]]] = {mode: {} for mode in modes}
        for name, route in FLOWS.items():
            interleaved(gateways, route, 10)
            for mode, xs in interleaved(gateways, route, flows).items():
                out[mode][name] = xs
        return out
    finally:
        for home in homes.values():
            rpcdemo(home, "down")
        shutil.rmtree(root, ignore_errors=True)


def pct(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=150, help="flows of each shape per run")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds, each with a links and a no-links topology up at once")
    ap.add_argument("--delay-ms", type=float, default=0.0,
                    help="also measure a run with `net delay service-b` of this many ms")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    samples: dict[str, dict[str, list[float]]] = {}
    modes = ["links", "no-links"]
    round_costs: dict[str, list[float]] = {}
    for r in range(args.rounds):
        got = one_round(modes if r % 2 == 0 else modes[::-1], args.flows, 0.0)
        for mode, by_flow in got.items():
            for flow, xs in by_flow.items():
                samples.setdefault(mode, {}).setdefault(flow, []).extend(xs)
            line = ", ".join(f"{f} p50 {statistics.median(xs) * 1000:.2f} ms"
                             for f, xs in by_flow.items())
            print(f"round {r + 1} {mode:<8}: {line}", flush=True)
        costs = {f: statistics.median(got["links"][f]) / statistics.median(got["no-links"][f]) - 1
                 for f in FLOWS}
        print(f"round {r + 1} links cost: " + ", ".join(f"{f} {c * 100:+.1f}%"
                                                       for f, c in costs.items()), flush=True)
        for f, c in costs.items():
            round_costs.setdefault(f, []).append(c)
    if args.delay_ms > 0:
        mode = f"links+delay {args.delay_ms:g}ms"
        samples[mode] = one_round(["links"], args.flows, args.delay_ms)["links"]
    summary: dict[str, Any] = {"flows_per_run": args.flows, "rounds": args.rounds,
                               "load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    print(f"load average (1 min) at start {load_before:.2f}, at end {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
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
    for f, cs in round_costs.items():
        summary[f"round_costs/{f}"] = [round(c, 4) for c in cs]
        print(f"{f}: links cost per round " + ", ".join(f"{c * 100:+.1f}%" for c in cs)
              + f" (median {statistics.median(cs) * 100:+.1f}%)")
    worst = max(summary[f"links/{f}"]["vs_no_links"] for f in FLOWS)
    verdict = "met" if worst < TARGET else "NOT met"
    print(f"\nlinks cost at p50: worst {worst * 100:+.1f}% (target < {TARGET * 100:.0f}%: "
          f"{verdict})")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
