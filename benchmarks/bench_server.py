"""Benchmark of the servers: ``python benchmarks/bench_server.py [--backend embedded,postgres]``.

Prints one table: p50/p90 of the await chain and the fan-out across processes
(a driver process and three worker processes, every flow crossing all three)
through the embedded server, durable and ``--memory``; the same flows in one
process on the SDK's ``LocalConnection`` (the lower bound) and the ratio; the
requests per second the server sustains (promise.create + promise.settle from
several client processes); and the durable/memory throughput ratio.

The same flows also run on a durable server with Resonate's token auth on
(``--auth-public-key``, every node sending a token): the server's busy time per
request with and without auth, in the same run, and the verification's own cost
measured in-process (a cached token, and a token seen for the first time).

With ``--backend postgres`` (needs ``RPCDEMO_RESONATE_SQL``, resonate-pg's schema
file) the same cross-process flows also run on resonate-pg (a cluster in a temp
dir, workers on ``PostgresConnection``), printed side by side with the embedded
server's durable figures and their ratio.

With ``--journal`` every server (ours and the baseline's) keeps a transition journal
(``--journal``), as ``rpcdemo up`` starts its embedded server (a ``--baseline`` must know
the flag: be33915 does not, main 3d5ddea does).

With ``--baseline PATH`` the durable and memory flows also run on another checkout's
server (PATH first on its PYTHONPATH; the workers stay ours), ``--baseline-rounds``
rounds alternating with this checkout's, and its busy time per request is printed
beside ours with the ratio (thread CPU when both report it, else wall) and the
issue's target, 0.49x of the baseline's durable figure (for be33915).

Every process runs in its own session and is killed as a group at the end.
Finishes in well under two minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from _bench_auth import Auth, verification_us
from _bench_procs import Procs, cpu_s, free_port, get_json, stop, wait_for

from resonate_rpc_cli.postgres.cluster import Cluster
from resonate_rpc_cli.postgres.db import schema_answers
from resonate_rpc_cli.postgres.timers import TimerDriver

HERE = Path(__file__).resolve().parent
NODES = str(HERE / "_server_nodes.py")
PY = sys.executable
LAYOUT = {
    "p1": "service-a,service-d,service-g",
    "p2": "service-b,service-e,service-h",
    "p3": "service-c,service-f,service-i",
}


#: The embedded servers' process ids by URL (their whole CPU time is read from /proc).
SERVER_PIDS: dict[str, int] = {}
#: ``--journal``: every server keeps a transition journal, as ``rpcdemo up`` starts it.
JOURNAL: list[bool] = [False]


@contextlib.contextmanager
def server(procs: Procs, tmp: Path, durable: bool, auth: Auth | None = None,
           checkout: Path | None = None) -> Iterator[str]:
    """An embedded server (durable store in ``tmp``, or ``--memory``; with ``auth``, tokens
    are checked; ``checkout``: that checkout's server); yields its URL."""
    port = free_port()
    store = ["--store", str(tmp / f"store-{port}.sqlite")] if durable else ["--memory"]
    keyed = ["--auth-public-key", str(auth.pem)] if auth else []
    journal = ["--journal", str(tmp / f"journal-{port}.jsonl")] if JOURNAL[0] else []
    proc = procs.start(f"server-{port}", "-m", "resonate_rpc_cli.server", "--port", str(port),
                       *store, *keyed, *journal, checkout=checkout)
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS[url] = proc.pid
    wait_for(lambda: get_json(url + "/health") is not None, 15, "server")
    try:
        yield url
    finally:
        stop(proc)


@contextlib.contextmanager
def topology(procs: Procs, tmp: Path, durable: bool, auth: Auth | None = None,
             checkout: Path | None = None) -> Iterator[str]:
    """A server (``checkout``'s, default this one's) plus three worker processes (this
    checkout's) serving the nine groups; yields the URL."""
    with server(procs, tmp, durable, auth, checkout) as url:
        workers = [procs.start(f"worker-{p}-{url.rsplit(':', 1)[1]}", NODES, "worker", url, g, p,
                               token=auth.node if auth else None)
                   for p, g in LAYOUT.items()]
        want = {f"{p}-{g}" for p, gs in LAYOUT.items() for g in gs.split(",")}
        admin = auth.admin if auth else None
        try:
            wait_for(lambda: want <= _listening(url, admin), 30, "workers")
            yield url
        finally:
            for p in workers:
                stop(p)


@contextlib.contextmanager
def pg_topology(procs: Procs, tmp: Path) -> Iterator[str]:
    """resonate-pg on a cluster in ``tmp`` plus the three workers; yields the database URL."""
    sql = os.environ.get("RPCDEMO_RESONATE_SQL", "").strip()
    if not sql:
        raise SystemExit("bench_server: --backend postgres needs RPCDEMO_RESONATE_SQL "
                         "(resonate.sql from github.com/resonatehq/resonate-pg)")
    if os.geteuid() == 0:
        os.chmod(tmp, 0o711)  # the cluster runs as the postgres user (see postgres/cluster.py)
    home = tmp / "pg-home"
    home.mkdir(mode=0o700, exist_ok=True)
    port = free_port()
    proc = procs.start("postgres", "-m", "resonate_rpc_cli.postgres.serve", "--home", str(home),
                       "--port", str(port), "--schema", sql)
    url = Cluster(home, "127.0.0.1", port).url
    wait_for(lambda: schema_answers(url), 180, "postgres")
    timers = TimerDriver(url, say=lambda line: None).start()
    workers = [procs.start(f"worker-{p}-pg", NODES, "worker", url, g, p)
               for p, g in LAYOUT.items()]
    try:
        wait_for(lambda: _pg_listeners(url) >= 9, 60, "workers on postgres")
        yield url
    finally:
        for p in workers:
            stop(p)
        timers.stop()
        stop(proc)


def _pg_listeners(url: str) -> int:
    """Connections holding a LISTEN (one per worker group once it listens)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity "
                           "WHERE query LIKE 'LISTEN%'").fetchone()
    return int(row[0]) if row else 0


def _listening(url: str, token: str | None = None) -> set[str]:
    info = get_json(url + "/rpcdemo/info", token) or {}
    return {pid for pids in info.get("listeners", {}).values() for pid in pids}


def run_json(procs: Procs, name: str, *args: str, timeout: float = 90,
             token: str | None = None) -> dict[str, Any]:
    p = procs.start(name, NODES, *args, token=token)
    out, _ = p.communicate(timeout=timeout)
    if p.returncode != 0:
        raise SystemExit(f"bench_server: {name} failed (see {procs.logdir}/{name}.log)")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def throughput(procs: Procs, url: str, seconds: float, clients: int, conc: int) -> float:
    ps = [procs.start(f"load-{i}", NODES, "load", url, str(seconds), str(conc))
          for i in range(clients)]
    total = 0
    longest = 0.0
    for p in ps:
        out, _ = p.communicate(timeout=seconds + 60)
        r = json.loads(out.decode().strip().splitlines()[-1])
        total += r["requests"]
        longest = max(longest, r["seconds"])
    return total / longest


def throughput_rounds(procs: Procs, tmp: Path, args: argparse.Namespace) -> dict[str, float]:
    """Requests per second, durable and memory: bare servers side by side, rounds
    alternating so that load from anything else on the machine hits both alike; the best
    round counts."""
    rps: dict[str, float] = {}
    with server(procs, tmp, durable=True) as durable, server(procs, tmp, durable=False) as mem:
        for _ in range(args.rounds):
            for mode, url in (("durable", durable), ("memory", mem)):
                got = throughput(procs, url, args.load / args.rounds, args.clients,
                                 args.concurrency)
                rps[mode] = max(rps.get(mode, 0.0), got)
    return rps


def _request_cost(before: Any, after: Any, flows: int) -> tuple[float, float, float]:
    """(requests per flow, server busy ms per request: wall, thread CPU) between two
    /rpcdemo/info reads (thread CPU NaN from a server that does not report it)."""
    n = sum(after["requests"].values()) - sum(before["requests"].values())
    busy = after["busy_ms"] - before["busy_ms"]
    busy_cpu = after.get("busy_cpu_ms", float("nan")) - before.get("busy_cpu_ms", 0.0)
    return n / flows, busy / max(n, 1), busy_cpu / max(n, 1)


def flow_cost(procs: Procs, tmp: Path, mode: str, flows: int, label: str,
              checkout: Path | None = None) -> tuple[float, float, float]:
    """:func:`_request_cost` of ``flows`` flows of each shape on a fresh topology."""
    with topology(procs, tmp, durable=mode == "durable", checkout=checkout) as url:
        before = get_json(url + "/rpcdemo/info")
        run_json(procs, f"flows-{label}", "flows", url, str(flows))
        return _request_cost(before, get_json(url + "/rpcdemo/info"), 2 * (flows + 3))


def compare(procs: Procs, tmp: Path, baseline: Path, flows: int, rounds: int
            ) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Busy µs per request (wall, thread CPU) of this checkout's server and ``baseline``'s
    on the same flows, per (checkout, mode): ``rounds`` rounds, the order alternating."""
    subprocess.run([PY, "-m", "compileall", "-q", str(baseline / "resonate_rpc_cli")],
                   env={**os.environ, "PYTHONPYCACHEPREFIX": str(procs.pycache)},
                   stdout=subprocess.DEVNULL, check=False)
    got: dict[tuple[str, str], list[tuple[float, float]]] = {}
    order: list[tuple[str, Path | None]] = [("this", None), ("baseline", baseline)]
    for r in range(rounds):
        for mode in ("durable", "memory"):
            for name, checkout in order if r % 2 == 0 else order[::-1]:
                _, wall, cpu = flow_cost(procs, tmp, mode, flows, f"{name}-{mode}-{r}", checkout)
                got.setdefault((name, mode), []).append((wall * 1000, cpu * 1000))
    return got


def _print_compare(got: dict[tuple[str, str], list[tuple[float, float]]],
                   baseline: Path, rounds: int) -> None:
    print(f"\nserver busy per request, this checkout vs {baseline} (its server, our workers), "
          f"same flows, median of {rounds} alternating rounds; load {os.getloadavg()[0]:.1f}:")
    for mode in ("durable", "memory"):
        ours = [statistics.median(x) for x in zip(*got["this", mode], strict=True)]
        base = [statistics.median(x) for x in zip(*got["baseline", mode], strict=True)]
        has_cpu = base[1] == base[1]  # NaN: the baseline reports wall time only
        i = 1 if has_cpu else 0
        print(f"  {mode:<8} this {ours[0]:.0f} us wall / {ours[1]:.0f} us CPU; baseline "
              + (f"{base[0]:.0f} us wall / {base[1]:.0f} us CPU" if has_cpu
                 else f"{base[0]:.0f} us wall (no thread CPU reported)")
              + f"; this / baseline = {ours[i] / base[i]:.2f}x ({'CPU' if has_cpu else 'wall'})"
              + (f"; with be33915 as the baseline, issue 21's target is <= 0.49x = "
                 f"{0.49 * base[i]:.0f} us"
                 if mode == "durable" else ""))


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1]


def _args() -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flows", type=int, default=60, help="flows of each shape (default 60)")
    ap.add_argument("--load", type=float, default=12.0,
                    help="seconds of load per mode (default 12)")
    ap.add_argument("--rounds", type=int, default=4, help="alternating load rounds (default 4)")
    ap.add_argument("--clients", type=int, default=2, help="load processes (default 2)")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight per process")
    ap.add_argument("--baseline", type=Path,
                    help="another checkout whose server runs the same flows, beside ours")
    ap.add_argument("--baseline-rounds", type=int, default=2,
                    help="alternating rounds against --baseline (default 2)")
    ap.add_argument("--journal", action="store_true",
                    help="every server keeps a transition journal, as `rpcdemo up` runs it")
    ap.add_argument("--backend", default="embedded",
                    help="comma-separated: embedded (default), postgres (resonate-pg)")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    if not backends or set(backends) - {"embedded", "postgres"}:
        raise SystemExit("bench_server: --backend takes embedded, postgres or both")
    return args, backends


def main() -> None:
    args, backends = _args()
    JOURNAL[0] = args.journal
    # the project's bytecode, as an installed package has it (PYTHONDONTWRITEBYTECODE may be
    # set, and each server would otherwise compile ~50 modules at start)
    subprocess.run([PY, "-m", "compileall", "-q", str(HERE.parent / "resonate_rpc_cli")],
                   stdout=subprocess.DEVNULL, check=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    procs = Procs(tmp)
    started = time.monotonic()
    try:
        local = run_json(procs, "local", "local", str(args.flows))
        lat: dict[str, dict[str, list[float]]] = {}
        rps: dict[str, float] = {}
        cost: dict[str, tuple[float, float, float]] = {}
        cpu: dict[str, float] = {}
        rtt: dict[str, list[float]] = {}
        if "postgres" in backends:
            with pg_topology(procs, tmp) as url:
                lat["postgres"] = run_json(procs, "flows-postgres", "flows", url,
                                           str(args.flows), timeout=300)
        auth = Auth(tmp)
        for mode in ("durable", "memory", "auth") if "embedded" in backends else ():
            keyed = auth if mode == "auth" else None
            token = auth.node if keyed else None
            with topology(procs, tmp, durable=mode != "memory", auth=keyed) as url:
                admin = auth.admin if keyed else None
                before, cpu0 = get_json(url + "/rpcdemo/info", admin), cpu_s(SERVER_PIDS[url])
                lat[mode] = run_json(procs, f"flows-{mode}", "flows", url, str(args.flows),
                                     token=token)
                after, cpu1 = get_json(url + "/rpcdemo/info", admin), cpu_s(SERVER_PIDS[url])
                cost[mode] = _request_cost(before, after, 2 * (args.flows + 3))
                cpu[mode] = (cpu1 - cpu0) / max(cost[mode][0] * 2 * (args.flows + 3), 1)
                rtt[mode] = run_json(procs, f"rtt-{mode}", "rtt", url, "300",
                                     token=token)["rtt"]
        if "embedded" in backends:
            rps = throughput_rounds(procs, tmp, args)
        versus = compare(procs, tmp, args.baseline.resolve(), args.flows, args.baseline_rounds
                         ) if args.baseline is not None and "embedded" in backends else None
    finally:
        procs.close()

    print(f"\nserver benchmark ({', '.join(backends)}"
          f"{'; servers keep a transition journal, as up runs them' if args.journal else ''}; "
          f"{args.flows} flows of each shape, "
          f"{os.cpu_count()} cores, {time.monotonic() - started:.0f} s)\n")
    if "postgres" in backends:
        _print_postgres(lat, local)
    if "embedded" not in backends:
        print(f"\nlogs: {tmp}")
        return
    print(f"{'flow':<13}{'path':<26}{'p50 ms':>9}{'p90 ms':>9}{'p50 / in-process':>18}")
    for flow in ("await-chain", "fan-out"):
        base = pct(local[flow], 50)
        rows = [("in-process (LocalConn.)", local[flow]),
                ("cross-process, durable", lat["durable"][flow]),
                ("cross-process, memory", lat["memory"][flow]),
                ("cross-process, dur.+auth", lat["auth"][flow])]
        for label, xs in rows:
            print(f"{flow:<13}{label:<26}{pct(xs, 50):>9.2f}{pct(xs, 90):>9.2f}"
                  f"{pct(xs, 50) / base:>17.1f}x")
    print("\nwhere the cross-process time goes (SDK requests are sequential within a flow):")
    for mode, (per_flow, per_req, per_req_cpu) in cost.items():
        r = pct(rtt[mode], 50)
        print(f"  {mode:<8} {per_flow:.1f} requests per flow x {r:.2f} ms round trip "
              f"(p50, bare aiohttp client) = {per_flow * r:.1f} ms; server busy "
              f"{per_req * 1000:.0f} us per request wall, {per_req_cpu * 1000:.0f} us "
              f"its thread's CPU = {per_flow * per_req:.2f} ms per flow; "
              f"the whole server process {cpu[mode] * 1e6:.0f} us CPU per request")
    _print_auth(cost, verification_us(auth))
    _print_throughput(rps, args)
    if versus is not None:
        _print_compare(versus, args.baseline, args.baseline_rounds)
    print(f"\nlogs: {tmp}")


def _print_throughput(rps: dict[str, float], args: argparse.Namespace) -> None:
    print(f"\nthroughput ({args.clients} processes x {args.concurrency} in flight, "
          f"promise.create + promise.settle, best of {args.rounds} alternating rounds):")
    print(f"  durable  {rps['durable']:>8.0f} req/s")
    print(f"  memory   {rps['memory']:>8.0f} req/s")
    print(f"  durable / memory = {rps['durable'] / rps['memory']:.2f} "
          f"(durability costs {100 * (1 - rps['durable'] / rps['memory']):.0f}%)")


def _print_auth(cost: dict[str, tuple[float, float, float]], verify: tuple[float, float]) -> None:
    """Token auth's cost beside the server's busy time per request, same run."""
    off, on = cost["durable"][1] * 1000, cost["auth"][1] * 1000
    cached, fresh = verify
    print("\ntoken auth (durable server, every request carrying a node token):")
    print(f"  server busy per request: {off:.0f} us without auth, {on:.0f} us with "
          f"({100 * (on - off) / off:+.1f}%, between two topologies: includes noise)")
    lean = cost["memory"][1] * 1000
    print(f"  the check itself, in-process: {cached:.2f} us with the token cached "
          f"= {100 * cached / off:.1f}% of the durable server's busy time per request, "
          f"{100 * cached / lean:.1f}% of the memory server's (budget 10%); "
          f"{fresh:.0f} us the first time a token is seen")


def _print_postgres(lat: dict[str, dict[str, list[float]]],
                    local: dict[str, list[float]]) -> None:
    """resonate-pg beside the embedded durable server (when measured) and in-process."""
    print(f"{'flow':<13}{'backend':<26}{'p50 ms':>9}{'p90 ms':>9}{'p50 / embedded':>16}")
    for flow in ("await-chain", "fan-out"):
        embedded = lat.get("durable", {}).get(flow)
        rows = [("in-process (LocalConn.)", local[flow])]
        rows += [("embedded, durable", embedded)] if embedded else []
        rows.append(("resonate-pg (Postgres)", lat["postgres"][flow]))
        for label, xs in rows:
            ratio = f"{pct(xs, 50) / pct(embedded, 50):>15.1f}x" if embedded else ""
            print(f"{flow:<13}{label:<26}{pct(xs, 50):>9.2f}{pct(xs, 90):>9.2f}{ratio}")
    print()


if __name__ == "__main__":
    main()
