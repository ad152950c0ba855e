"""Benchmark of the embedded server's store as it grows: ``python benchmarks/bench_store.py``.

Fills one durable store with N promises in call trees of ten (a root with a
``resonate:target``, so it has a task, and nine local children; every other
tree is settled, children first, so half the promises are settled), with 32
requests in flight from two load processes, against
``python -m resonate_rpc_cli.server --store PATH --port P``. At each size of
``--sizes`` (default 10k,100k,400k,1M) it prints one row:

* throughput: create+settle requests per second over the last window of the
  fill (``max(5k, N/20)`` promises, at most 50k), and the server's CPU time per
  request in that window (what the server itself costs, whatever else shares
  the machine);
* the longest event-loop stall in that window, ``wall/cpu`` ms: the server's
  own probe when ``/rpcdemo/info`` reports one (``loop.stalls``; ``cpu`` is the
  part the loop's thread spent computing, not waiting for a shared CPU), else
  ``-``; and the slowest of the tiny requests (``GET /health`` every 5 ms) sent
  alongside the load;
* the server's RSS, and RSS above the empty server's per held promise;
* ``/rpcdemo/info`` latency (median of 30, idle);
* restart: ``kill -9``, start again on the same store, time to ``/ready`` (wall
  and the server's own CPU seconds, which the machine's load does not inflate); the
  server reads its records after that, so ``loaded`` is the time from
  ``/ready`` until ``/rpcdemo/info`` (which waits for every record) answers, and
  ``kept`` checks its count against every promise acknowledged so far;
* crash: a write load (creates and settles) on fresh trees, ``kill -9`` once
  at least ``--acked`` requests were acknowledged, restart (time to
  ``/ready``), then every acknowledged id is read back with ``promise.get``
  (each create found, each acknowledged settle settled), while the restarted
  server is still reading its store.

``--cap SECONDS`` stops filling after that long (the row then says how far it
got). ``--prefill`` writes all but each window straight into the stopped
server's store (the records the server's own state machine makes for the same
requests), so a million is reachable on a busy machine; the windows, restarts
and every figure still go through the real server.

``--retain 60s --soak 10m`` instead runs a soak: the server with
``--retain 60s``, every tree settled, load at full rate for 10 minutes, RSS
sampled every 10 s; it prints RSS after 2 minutes and at the end.

Every process runs in its own session and is killed as a group at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PY = sys.executable
CLIENTS = 2
PER_CLIENT = 16
TREE = 10
VERSION = "2026-04-01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 2.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def wait_for(probe: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"bench_store: timed out waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - started


def compile_bytecode(repo: Path) -> None:
    """Write the checkout's bytecode (``__pycache__``), as an installed package has it.

    Where ``PYTHONDONTWRITEBYTECODE`` is set (as in some shells here) no import writes it,
    and every server start would compile the project's ~50 modules from source again
    (~0.15 s of CPU, more than a third of a restart's)."""
    subprocess.run([PY, "-m", "compileall", "-q", str(repo / "resonate_rpc_cli")],
                   stdout=subprocess.DEVNULL, check=False)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def parse_size(text: str) -> int:
    t = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    return int(float(t.rstrip("km")) * mult)


def parse_duration(text: str) -> float:
    t = text.strip().lower()
    mult = {"s": 1, "m": 60, "h": 3600}.get(t[-1:], 1)
    return float(t.rstrip("smh")) * mult


class Server:
    """One ``python -m resonate_rpc_cli.server`` on a store, in its own session."""

    def __init__(self, repo: Path, store: Path, logdir: Path, extra: list[str]) -> None:
        self.repo = repo
        self.store = store
        self.logdir = logdir
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        #: CPU seconds the server used from spawn to ``/ready`` (the machine's load aside)
        self.ready_cpu = 0.0

    def start(self) -> float:
        """Start; return seconds from spawn to ``/ready`` answering 200."""
        self.starts += 1
        log = (self.logdir / f"server-{self.starts}.log").open("ab")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [PY, "-m", "resonate_rpc_cli.server", "--store", str(self.store),
             "--port", str(self.port), *self.extra],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=self.repo,
        )
        log.close()
        wait_for(lambda: _get(self.url + "/ready", 1.0) is not None, 600, "/ready")
        took = time.monotonic() - started
        self.ready_cpu = cpu_s(self.proc.pid)
        return took

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill9()
        self.proc = None


class TinyProbe:
    """A thread sending ``GET /health`` every 5 ms; records (time, latency) of each."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            _get(self.url + "/health", 5.0)
            self.samples.append((started, time.monotonic() - started))
            self._stop.wait(0.005)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def slowest_ms(self, since: float, until: float) -> float:
        window = [lat for at, lat in self.samples if since <= at <= until]
        return max(window, default=0.0) * 1000


# -- load processes -------------------------------------------------------------


def tree_requests(salt: str, n: int, settle_all: bool) -> list[tuple[str, dict[str, Any]]]:
    """The requests of tree ``n``: a root with a target (so a task), nine local children,
    and for every other tree (or all, ``settle_all``) their settles, children first."""
    root = uuid.uuid5(uuid.NAMESPACE_OID, f"{salt}-{n}").hex
    param = {"headers": {}, "data": "eyJmdW5jIjogImZvbyIsICJhcmdzIjogWzEsIDJdfQ=="}
    out: list[tuple[str, dict[str, Any]]] = [("promise.create", {
        "id": root, "timeoutAt": 2**62, "param": param,
        "tags": {"resonate:scope": "global", "resonate:target": "poll://any@bench-nobody",
                 "resonate:branch": root, "resonate:parent": root, "resonate:origin": root}})]
    children = [f"{root}.{i}" for i in range(1, TREE)]
    for cid in children:
        out.append(("promise.create", {
            "id": cid, "timeoutAt": 2**62, "param": {"headers": {}, "data": None},
            "tags": {"resonate:scope": "local", "resonate:branch": root,
                     "resonate:parent": root, "resonate:origin": root}}))
    if settle_all or n % 2 == 0:
        value = {"headers": {}, "data": "MTIz"}
        for pid in [*children, root]:
            out.append(("promise.settle", {"id": pid, "state": "resolved", "value": value}))
    return out


def prefill(store: Path, first: int, count: int) -> None:
    """Write trees ``first .. first+count`` straight into a (stopped) server's store.

    The rows are what the server writes for :func:`tree_requests` (ServerState's
    ``promise.create``: a target gives a pending task retried every 30 s and a
    promise timeout; ``promise.settle``: the task fulfilled, both timeouts
    gone), built directly, which is far faster than HTTP or the state machine.
    """
    # the checkout under test (main() put it first on sys.path)
    import msgspec  # noqa: PLC0415
    from resonate.connections.local import PENDING_RETRY_TTL, DurablePromise, Task  # noqa: PLC0415

    from resonate_rpc_cli.server.records import PromiseRow, TaskRow  # noqa: PLC0415
    from resonate_rpc_cli.server.store import Store  # noqa: PLC0415

    encode = msgspec.msgpack.Encoder().encode
    salt = uuid.uuid4().hex[:6]
    db = Store.open(store)
    try:
        for start in range(first, first + count, 5000):
            now = int(time.time() * 1000)
            promises: list[tuple[str, bytes]] = []
            tasks: list[tuple[str, bytes]] = []
            for n in range(start, min(start + 5000, first + count)):
                reqs = tree_requests(salt, n, settle_all=False)
                settled = {d["id"]: d["value"] for k, d in reqs if k == "promise.settle"}
                for kind, d in reqs:
                    if kind != "promise.create":
                        continue
                    pid = d["id"]
                    done = pid in settled
                    target = "resonate:target" in d["tags"]
                    p = DurablePromise(
                        id=pid, state="resolved" if done else "pending", param=d["param"],
                        value=settled.get(pid), tags=d["tags"], timeout_at=d["timeoutAt"],
                        created_at=now, settled_at=now if done else None, awaiters=set(),
                        subscribers=set())
                    timeout = d["timeoutAt"] if target and not done else None
                    promises.append((pid, encode(PromiseRow(p, timeout))))
                    if target:
                        t = Task(id=pid, state="fulfilled" if done else "pending", version=0,
                                 pid=None, ttl=None, resumes=set())
                        retry = (None, None) if done else (0, now + PENDING_RETRY_TTL)
                        tasks.append((pid, encode(TaskRow(t, *retry))))
            db.write({"promises": promises, "tasks": tasks}, {})
    finally:
        db.close()


class Conn:
    """One keep-alive HTTP/1.1 connection: far lighter than a client library, so the
    load processes cost little next to the server they measure."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, body: bytes) -> tuple[int, bytes]:
        self.writer.write(b"POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json"
                          b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)


async def _load(url: str, first: int, count: int, settle_all: bool, seconds: float,
                acks: str = "") -> None:
    """Create (and half settle) trees ``first .. first+count`` (or until ``seconds``).

    ``acks``: a file to append ``<kind> <id>`` to for each acknowledged request
    (as it is acknowledged); a connection the server dropped (it was killed)
    then ends its worker instead of failing the load."""
    import msgspec  # noqa: PLC0415  (only the load processes need it)

    enc = msgspec.json.Encoder()
    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    done = 0
    requests = 0
    next_tree = first
    deadline = time.monotonic() + seconds if seconds > 0 else float("inf")
    salt = uuid.uuid4().hex[:6]
    ack_file = open(acks, "a", buffering=1) if acks else None  # noqa: SIM115

    async def post(conn: Conn, kind: str, data: dict[str, Any]) -> None:
        nonlocal requests
        body = enc.encode({"kind": kind, "head": {"corrId": data["id"], "version": VERSION},
                           "data": data})
        status, _ = await conn.post(body)
        if status >= 400:
            raise SystemExit(f"load: {kind} answered {status}")
        requests += 1
        if ack_file is not None:
            ack_file.write(f"{kind} {data['id']}\n")

    async def tree(conn: Conn, n: int) -> None:
        for kind, data in tree_requests(salt, n, settle_all):
            await post(conn, kind, data)

    async def worker() -> None:
        nonlocal next_tree, done
        conn = await Conn.open(host, int(port))
        try:
            while next_tree < first + count and time.monotonic() < deadline:
                n = next_tree
                next_tree += 1
                await tree(conn, n)
                done += 1
        except (OSError, asyncio.IncompleteReadError):
            if ack_file is None:
                raise
        finally:
            conn.writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(PER_CLIENT)))
    print(json.dumps({"trees": done, "requests": requests,
                      "seconds": time.monotonic() - started}), flush=True)


def start_load(url: str, first_tree: int, trees: int, logdir: Path, *,
               settle_all: bool = False, seconds: float = 0.0,
               acks: Path | None = None) -> list[subprocess.Popen[bytes]]:
    """Two load processes sharing ``trees`` trees (``acks``: see :func:`_load`)."""
    per = -(-trees // CLIENTS)
    procs = []
    for i in range(CLIENTS):
        first = first_tree + i * per
        count = max(0, min(per, first_tree + trees - first))
        with (logdir / "load.log").open("ab") as log:
            procs.append(subprocess.Popen(
                [PY, __file__, "_load", url, str(first), str(count), str(int(settle_all)),
                 str(seconds), str(acks or "")],
                stdout=subprocess.PIPE, stderr=log, start_new_session=True))
    return procs


def run_load(url: str, first_tree: int, trees: int, logdir: Path, *, settle_all: bool = False,
             seconds: float = 0.0) -> tuple[int, int, float]:
    """Two load processes share ``trees`` trees; returns (trees, requests, wall seconds)."""
    started = time.monotonic()
    procs = start_load(url, first_tree, trees, logdir, settle_all=settle_all, seconds=seconds)
    done = reqs = 0
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"bench_store: a load process failed (see {logdir}/load.log)")
        r = json.loads(out.decode().strip().splitlines()[-1])
        done += r["trees"]
        reqs += r["requests"]
    return done, reqs, time.monotonic() - started


# -- the table --------------------------------------------------------------------


def info_latency_ms(url: str, n: int = 30) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        _get(url + "/rpcdemo/info", 10)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def server_stall_ms(url: str, since_wall: float,
                    until_wall: float) -> tuple[float, float] | None:
    """(longest wall stall, longest CPU stall) the server's probe saw in the window."""
    info = _get(url + "/rpcdemo/info", 10) or {}
    loop = info.get("loop")
    if not isinstance(loop, dict):
        return None
    window = [(w, c) for at, w, c in loop.get("stalls", []) if since_wall <= at <= until_wall]
    return (max((w for w, _ in window), default=0.0), max((c for _, c in window), default=0.0))


def promise_count(url: str) -> int | None:
    info = _get(url + "/rpcdemo/info", 600) or {}
    n = info.get("promises")
    return int(n) if isinstance(n, int) else None


def crash(server: Server, first_tree: int, tmp: Path, want: int) -> tuple[float, int, int]:
    """A write load on fresh trees; ``kill -9`` once ``want`` requests were acknowledged;
    restart. Returns (seconds to ``/ready``, requests acknowledged, of them found as
    acknowledged: every created id there, every settled id settled)."""
    acks = tmp / f"acks-{server.starts}.txt"
    acks.write_text("")
    procs = start_load(server.url, first_tree, 10**6, tmp, seconds=300, acks=acks)

    def acked() -> int:
        return acks.read_text().count("\n")

    try:
        wait_for(lambda: acked() >= want, 300, f"{want} acknowledged requests")
        server.kill9()
    finally:
        for p in procs:
            p.communicate(timeout=60)
    restart = server.start()
    lines = [line.split(" ", 1) for line in acks.read_text().splitlines()]
    created = {pid for kind, pid in lines if kind == "promise.create"}
    settled = {pid for kind, pid in lines if kind == "promise.settle"}
    found = asyncio.run(_verify(server.url, created, settled))
    return restart, len(lines), found


async def _verify(url: str, created: set[str], settled: set[str]) -> int:
    """How many of the acknowledged requests the server shows (``promise.get`` each id)."""
    host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
    ids = sorted(created | settled)
    found = 0

    async def worker(chunk: list[str]) -> None:
        nonlocal found
        conn = await Conn.open(host, int(port))
        try:
            for pid in chunk:
                status, body = await conn.post(json.dumps({
                    "kind": "promise.get", "head": {"corrId": pid, "version": VERSION},
                    "data": {"id": pid}}).encode())
                data = json.loads(body).get("data") if status == 200 else None
                promise = data.get("promise") if isinstance(data, dict) else None
                if not isinstance(promise, dict) or promise.get("id") != pid:
                    continue
                found += pid in created
                found += pid in settled and promise.get("state") == "resolved"
        finally:
            conn.writer.close()

    await asyncio.gather(*(worker(ids[i::8]) for i in range(8)))
    return found


def fill_table(args: argparse.Namespace, tmp: Path) -> None:
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    server = Server(args.repo, tmp / "store.sqlite", tmp, [])
    empty = server.start()
    base_rss = rss_mb(server.pid)
    trees = 0
    rows: list[str] = []
    started = time.monotonic()
    print(f"bench_store: {args.repo}, store {tmp / 'store.sqlite'}, base RSS {base_rss:.0f} MB, "
          f"start on an empty store (the floor of every restart) {empty:.2f} s / "
          f"{server.ready_cpu:.2f} s CPU; load {os.getloadavg()[0]:.1f}", flush=True)
    header = (f"{'promises':>10} {'req/s':>8} {'CPU us/req':>10} {'stall ms':>11} "
              f"{'slowest ms':>11} {'RSS MB':>8} "
              f"{'B/promise':>10} {'info ms':>8} {'restart s/cpu':>14} {'loaded s':>9} "
              f"{'kept':>5} {'crash s/cpu':>12} {'acked kept':>12}")
    print(header, flush=True)
    try:
        for size in sizes:
            target_trees = size // TREE
            window = (args.window or min(max(5_000, size // 20), 50_000)) // TREE
            fill_to = max(trees, target_trees - window)
            left = args.cap - (time.monotonic() - started)
            if fill_to > trees and left > 0 and args.prefill:
                server.stop()
                prefill(server.store, trees, fill_to - trees)
                trees = fill_to
                server.start()
                promise_count(server.url)  # the window measures serving, not the store's read
            elif fill_to > trees and left > 0:
                got, _, _ = run_load(server.url, trees, fill_to - trees, tmp, seconds=left)
                trees += got
            left = args.cap - (time.monotonic() - started)
            if left <= 0:
                rows.append(f"{trees * TREE:>10}  (cap of {args.cap:.0f} s reached before "
                            f"{size})")
                print(rows[-1], flush=True)
                break
            got, row = _measure_window(server, trees, target_trees, tmp, left, base_rss,
                                       args.acked)
            trees += got
            rows.append(row)
            print(rows[-1], flush=True)
            if trees < target_trees:
                print(f"  (cap of {args.cap:.0f} s reached during the window)", flush=True)
                break
    finally:
        server.stop()
    print(f"\nbench_store: {time.monotonic() - started:.0f} s; load {os.getloadavg()[0]:.1f}; "
          f"logs in {tmp}")


def _measure_window(server: Server, trees: int, target_trees: int, tmp: Path, left: float,
                    base_rss: float, want_acks: int) -> tuple[int, str]:
    """Load ``server`` from ``trees`` up to ``target_trees`` (within ``left`` seconds), then
    kill -9 and restart it, then crash it under load; the trees added and the table row."""
    probe = TinyProbe(server.url)
    probe.start()
    w0, m0, c0 = time.time(), time.monotonic(), cpu_s(server.pid)
    got, reqs, secs = run_load(server.url, trees, target_trees - trees, tmp, seconds=left)
    w1, m1, c1 = time.time(), time.monotonic(), cpu_s(server.pid)
    cpu_us = (c1 - c0) / max(reqs, 1) * 1e6
    probe.close()
    rps = reqs / secs if secs > 0 else 0.0
    stall = server_stall_ms(server.url, w0, w1)
    slowest = probe.slowest_ms(m0, m1)
    rss = rss_mb(server.pid)
    held = (trees + got) * TREE
    per = (rss - base_rss) * 1024 * 1024 / max(held, 1)
    info_ms = info_latency_ms(server.url)
    server.kill9()
    restart = f"{server.start():.2f}/{server.ready_cpu:.2f}"
    ready_at = time.monotonic()
    kept = promise_count(server.url)
    loaded = time.monotonic() - ready_at
    ok = "yes" if kept is not None and kept >= held else f"NO ({kept})"
    crash_s, acked, found = crash(server, trees + got + 1, tmp, want_acks)
    crash_t = f"{crash_s:.2f}/{server.ready_cpu:.2f}"
    acked_ok = f"{found}/{acked}"
    stall_s = f"{stall[0]:.0f}/{stall[1]:.1f}" if stall is not None else "-"
    return got, (f"{held:>10} {rps:>8.0f} {cpu_us:>10.0f} {stall_s:>11} "
                 f"{slowest:>11.1f} {rss:>8.0f} "
                 f"{per:>10.0f} {info_ms:>8.2f} {restart:>14} {loaded:>9.2f} {ok:>5} "
                 f"{crash_t:>12} {acked_ok:>12}")


def soak(args: argparse.Namespace, tmp: Path) -> None:
    total = parse_duration(args.soak)
    server = Server(args.repo, tmp / "store.sqlite", tmp, ["--retain", args.retain])
    server.start()
    samples: list[tuple[float, float, int | None]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.wait(10):
            samples.append((time.monotonic() - t0, rss_mb(server.pid),
                            promise_count(server.url)))
            print(f"  {samples[-1][0]:>6.0f} s  RSS {samples[-1][1]:>7.1f} MB  "
                  f"promises {samples[-1][2]}", flush=True)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, reqs, secs = run_load(server.url, 0, 10**9, tmp, settle_all=True, seconds=total)
    finally:
        stop.set()
        sampler.join(15)
        server.stop()
    at2 = [rss for t, rss, _ in samples if t <= 120]
    ref = at2[-1] if at2 else samples[0][1]
    end = samples[-1][1]
    print(f"\nsoak: --retain {args.retain}, {secs:.0f} s at {reqs / secs:.0f} req/s; "
          f"RSS after 2 min {ref:.1f} MB, at the end {end:.1f} MB "
          f"({100 * (end - ref) / ref:+.1f}%); logs in {tmp}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_load":
        url, first, count, settle_all, seconds, acks = sys.argv[2:8]
        asyncio.run(_load(url, int(first), int(count), settle_all == "1", float(seconds), acks))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,400k,1M",
                    help="promise counts to report at (default 10k,100k,400k,1M)")
    ap.add_argument("--cap", type=float, default=1800.0,
                    help="stop filling after this many seconds (default 1800)")
    ap.add_argument("--repo", type=Path, default=HERE.parent,
                    help="the checkout whose server to run (default this one)")
    ap.add_argument("--window", type=int, default=0,
                    help="promises per measuring window (default max(5k, N/20), at most 50k)")
    ap.add_argument("--prefill", action="store_true",
                    help="write all but each measuring window straight into the store "
                    "(the server's own records; needs this checkout's server)")
    ap.add_argument("--acked", type=int, default=2000,
                    help="crash: kill -9 once this many writes were acknowledged (default 2000)")
    ap.add_argument("--retain", help="soak mode: the server's --retain (e.g. 60s)")
    ap.add_argument("--soak", default="10m", help="soak length with --retain (default 10m)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # still stop the server
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    sys.path.insert(0, str(args.repo.resolve()))  # --prefill uses that checkout's records
    compile_bytecode(args.repo)
    if args.retain:
        soak(args, tmp)
    else:
        fill_table(args, tmp)


if __name__ == "__main__":
    main()
