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

``--bare`` adds a third path: a bare relay, a process of its own with one
epoll loop that does nothing but ``recv_into`` and ``send`` (no faults, no
lock, no other thread; started by this script, ended with it). What it adds
over direct is the floor of any Python relay process on this machine; the
link's cost above it is what our relay's own code and its sharing of the
supervisor daemon cost. ``--load`` runs await chains through the gateway, one
after another, in a process of their own while measuring: the links then carry
the flows' traffic on the daemon's other link threads, as in ``bench_links.py``.

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
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
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
    """``trips`` keep-alive round trips per path, alternating (the order turns each time)."""
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


def bare_relay(listen_port: int, upstream_port: int) -> None:
    """Forward each connection on ``listen_port`` to ``upstream_port``: recv, send, nothing else."""
    listener = socket.create_server(("127.0.0.1", listen_port))
    listener.setblocking(False)
    ep = select.epoll()
    ep.register(listener.fileno(), select.EPOLLIN)
    peers: dict[int, tuple[socket.socket, socket.socket]] = {}
    buf = bytearray(64 * 1024)
    view = memoryview(buf)
    while True:
        for fd, _ in ep.poll():
            if fd == listener.fileno():
                down, _ = listener.accept()
                up = socket.create_connection(("127.0.0.1", upstream_port))
                for a, b in ((down, up), (up, down)):
                    a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    a.setblocking(False)
                    peers[a.fileno()] = (a, b)
                    ep.register(a.fileno(), select.EPOLLIN)
                continue
            src, dst = peers[fd]
            try:
                n = src.recv_into(buf)
            except BlockingIOError:
                continue
            if n == 0:
                ep.unregister(fd)
                peers.pop(fd)
                if dst.fileno() in peers:
                    with suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)  # half-close: the peer sees the EOF
                else:
                    src.close()
                    dst.close()
                continue
            dst.sendall(view[:n])


def flow_load(gateway_port: int) -> None:
    """Await chains through the gateway, one after another, until killed."""
    conn = http.client.HTTPConnection("127.0.0.1", gateway_port, timeout=60)
    i = 0
    while True:
        i += 1
        conn.request("POST", "/await-chain", json.dumps({"id": f"hop-{os.getpid()}-{i}",
                                                          "arg": i % 7 + 1}),
                     {"Content-Type": "application/json"})
        conn.getresponse().read()


def start_bare(upstream_port: int) -> tuple[subprocess.Popen[bytes], int]:
    """A bare relay process in front of ``upstream_port``, listening; its port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--bare-relay", str(port),
                             str(upstream_port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return proc, port
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("the bare relay did not listen within 10 s")


def measure(paths: dict[str, int], args: argparse.Namespace) -> dict[str, object]:
    """Every round's and the pooled figures, printed as they come; the JSON summary's part."""
    pooled: dict[str, list[float]] = {path: [] for path in paths}
    costs: dict[str, list[float]] = {path: [] for path in paths if path != "direct"}
    for r in range(args.rounds):
        got = one_round(paths, args.trips)
        base = statistics.median(got["direct"])
        parts = []
        for path, xs in got.items():
            pooled[path] += xs
            if path != "direct":
                costs[path].append(statistics.median(xs) - base)
                parts.append(f"{path} +{(statistics.median(xs) - base) * 1e6:.0f} µs")
        print(f"round {r + 1}: direct p50 {base * 1e6:.0f} µs; per round trip "
              + ", ".join(parts), flush=True)
    fresh = fresh_round(paths, max(50, args.trips // 4))
    fbase = statistics.median(fresh["direct"])
    print(f"new connection per request: direct p50 {fbase * 1e6:.0f} µs; "
          + ", ".join(f"{p} +{(statistics.median(xs) - fbase) * 1e6:.0f} µs"
                      for p, xs in fresh.items() if p != "direct"), flush=True)
    base = statistics.median(pooled["direct"])
    out: dict[str, object] = {"direct_p50_us": round(base * 1e6, 1),
                              "new_connection_direct_p50_us": round(fbase * 1e6, 1)}
    for path, rounds in costs.items():
        cost = statistics.median(pooled[path]) - base
        print(f"{path}: p50 {statistics.median(pooled[path]) * 1e6:.0f} µs, adds "
              f"{cost * 1e6:.0f} µs per round trip ({cost * 1e6 / 2:.0f} µs per crossing; "
              f"median of rounds {statistics.median(rounds) * 1e6:.0f} µs), "
              f"{(statistics.median(fresh[path]) - fbase) * 1e6:.0f} µs per new connection")
        out[path] = {"p50_us": round(statistics.median(pooled[path]) * 1e6, 1),
                     "per_round_trip_us": round(cost * 1e6, 1),
                     "per_crossing_us": round(cost * 1e6 / 2, 1),
                     "round_costs_us": [round(c * 1e6, 1) for c in rounds],
                     "per_new_connection_us":
                         round((statistics.median(fresh[path]) - fbase) * 1e6, 1)}
    return out


def main() -> None:
    if sys.argv[1:2] == ["--bare-relay"]:
        bare_relay(int(sys.argv[2]), int(sys.argv[3]))
        return
    if sys.argv[1:2] == ["--flow-load"]:
        flow_load(int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trips", type=int, default=3000, help="round trips per path per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bare", action="store_true",
                    help="also measure a bare relay process (the floor of any Python relay)")
    ap.add_argument("--load", action="store_true",
                    help="run await chains through the gateway meanwhile (links busy)")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="rpcd-hop-"))
    home = root / "home"
    server = free_port()
    gateway = free_port()
    helpers: list[subprocess.Popen[bytes]] = []
    try:
        rpcdemo(home, "up", "--detach", "--memory", "--links", "--server-port", str(server),
                "--gateway-port", str(gateway))
        links = json.loads(rpcdemo(home, "net", "status", "--json"))
        paths = {"direct": server,
                 "link": next(int(link["port"]) for link in links if link["node"] == NODE)}
        if args.bare:
            bare, paths["bare relay"] = start_bare(server)
            helpers.append(bare)
        if args.load:
            helpers.append(subprocess.Popen([sys.executable, __file__, "--flow-load",
                                             str(gateway)]))
        summary = measure(paths, args)
    finally:
        for helper in helpers:
            helper.kill()
            helper.wait()
        rpcdemo(home, "down")
        shutil.rmtree(root, ignore_errors=True)
    load_after = os.getloadavg()[0]
    print(f"load average (1 min) at start {load_before:.2f}, at end {load_after:.2f} "
          f"on {os.cpu_count()} cores")
    print(json.dumps({"trips": args.trips, "rounds": args.rounds, "flow_load": args.load,
                      "load_1m": [round(load_before, 2), round(load_after, 2)], **summary}))


if __name__ == "__main__":
    main()
