"""Benchmark: what one link crossing costs, round trips through a link vs direct, same run.

    python benchmarks/bench_link_hop.py [--trips 3000] [--rounds 3]

Starts one topology with the real CLI (``rpcdemo up --detach --memory --links``,
fresh HOME under /tmp, free ports), takes one node's link port from
``rpcdemo net status --json``, and sends ``GET /health`` to the server over one
keep-alive connection through that link and over another straight to the
server, alternating request by request (who goes first, too), so both see the
same machine load. The server's own work is the same on both paths; the
difference of the medians is what the link adds per round trip, which is two
crossings (the request and the answer). Flow p50 (``bench_links.py``) moves
with the load of the whole machine; this figure moves much less. A second
figure does the same with a new connection per request (``Connection: close``,
as the gateway's per-flow ``/health`` probe does): what a link adds to a
connection's set-up, request and close.

Target (issue 21): links cost ≤ +5 % of flow p50; with ~19 SDK requests plus
the SSE messages per ~30 ms flow, that is ≤ ~70 µs per round trip (the relay
on a thread of the supervisor measured ~130-150 µs per crossing on 2026-12-04).
Prints a line per round, then a JSON summary. The topology is stopped with
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
from pathlib import Path

CLI = [sys.executable, "-m", "resonate_rpc_cli"]
NODE = "service-a-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpcdemo(home: Path, *args: str) -> str:
    env = {**os.environ, "RPCDEMO_HOME": str(home)}
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"rpcdemo {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr.strip()}")
    return done.stdout


def trip(conn: http.client.HTTPConnection) -> float:
    """Seconds for one ``GET /health`` answered 200 on ``conn``."""
    started = time.perf_counter()
    conn.request("GET", "/health")
    resp = conn.getresponse()
    body = resp.read()
    took = time.perf_counter() - started
    if resp.status != 200:
        raise SystemExit(f"/health answered {resp.status}: {body[:200]!r}")
    return took


def fresh_trip(port: int) -> float:
    """Seconds for one ``GET /health`` on a new connection, closed after the answer."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/health", headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
    finally:
        conn.close()
    took = time.perf_counter() - started
    if resp.status != 200:
        raise SystemExit(f"/health answered {resp.status}")
    return took


def fresh_round(ports: dict[str, int], trips: int) -> dict[str, list[float]]:
    """``trips`` new-connection requests per path, alternating, after a warm-up."""
    times: dict[str, list[float]] = {path: [] for path in ports}
    order = list(ports)
    for i in range(trips + 50):
        for path in order if i % 2 == 0 else order[::-1]:
            took = fresh_trip(ports[path])
            if i >= 50:
                times[path].append(took)
    return times


def one_round(ports: dict[str, int], trips: int) -> dict[str, list[float]]:
    conns = {path: http.client.HTTPConnection("127.0.0.1", port, timeout=10)
             for path, port in ports.items()}
    times: dict[str, list[float]] = {path: [] for path in ports}
    order = list(ports)
    try:
        for _ in range(200):  # warm-up: connections, server caches, CPU frequency
            for path in order:
                trip(conns[path])
        for i in range(trips):
            for path in order if i % 2 == 0 else order[::-1]:
                times[path].append(trip(conns[path]))
    finally:
        for conn in conns.values():
            conn.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trips", type=int, default=3000, help="round trips per path per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="rpcd-hop-"))
    home = root / "home"
    server = free_port()
    try:
        rpcdemo(home, "up", "--detach", "--memory", "--links", "--server-port", str(server),
                "--gateway-port", str(free_port()))
        links = json.loads(rpcdemo(home, "net", "status", "--json"))
        port = next(int(link["port"]) for link in links if link["node"] == NODE)
        costs: list[float] = []
        direct_all: list[float] = []
        link_all: list[float] = []
        for r in range(args.rounds):
            got = one_round({"direct": server, "link": port}, args.trips)
            d, lk = statistics.median(got["direct"]), statistics.median(got["link"])
            direct_all += got["direct"]
            link_all += got["link"]
            costs.append(lk - d)
            print(f"round {r + 1}: direct p50 {d * 1e6:.0f} µs, through {NODE}'s link "
                  f"{lk * 1e6:.0f} µs: +{(lk - d) * 1e6:.0f} µs per round trip", flush=True)
        fresh = fresh_round({"direct": server, "link": port}, args.trips // 4)
        fd, fl = statistics.median(fresh["direct"]), statistics.median(fresh["link"])
        print(f"new connection per request: direct p50 {fd * 1e6:.0f} µs, link "
              f"{fl * 1e6:.0f} µs: +{(fl - fd) * 1e6:.0f} µs per connection", flush=True)
    finally:
        rpcdemo(home, "down")
        shutil.rmtree(root, ignore_errors=True)
    d, lk = statistics.median(direct_all), statistics.median(link_all)
    fd, fl = statistics.median(fresh["direct"]), statistics.median(fresh["link"])
    load_after = os.getloadavg()[0]
    print(f"load average (1 min) at start {load_before:.2f}, at end {load_after:.2f} "
          f"on {os.cpu_count()} cores")
    print(f"pooled: direct p50 {d * 1e6:.0f} µs, link p50 {lk * 1e6:.0f} µs; the link adds "
          f"{(lk - d) * 1e6:.0f} µs per round trip ({(lk - d) * 1e6 / 2:.0f} µs per crossing); "
          f"median of rounds {statistics.median(costs) * 1e6:.0f} µs")
    print(json.dumps({"trips": args.trips, "rounds": args.rounds,
                      "load_1m": [round(load_before, 2), round(load_after, 2)],
                      "direct_p50_us": round(d * 1e6, 1), "link_p50_us": round(lk * 1e6, 1),
                      "per_round_trip_us": round((lk - d) * 1e6, 1),
                      "per_crossing_us": round((lk - d) * 1e6 / 2, 1),
                      "round_costs_us": [round(c * 1e6, 1) for c in costs],
                      "new_connection_us": {"direct_p50": round(fd * 1e6, 1),
                                            "link_p50": round(fl * 1e6, 1),
                                            "cost": round((fl - fd) * 1e6, 1)}}))


if __name__ == "__main__":
    main()
