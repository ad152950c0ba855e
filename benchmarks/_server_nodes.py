"""Processes for ``bench_server.py``: workers, a flow driver, a load generator, in-process flows.

URL is an embedded server (``http://``) or a resonate-pg database (``postgresql://``,
through ``resonate_pg.PostgresConnection``; timers are the caller's job).

``python benchmarks/_server_nodes.py worker URL GROUPS PREFIX`` serves the seed's nine
functions for the comma-separated groups until SIGTERM.
``... flows URL N`` runs N await chains then N fan-outs, one at a time, and prints
``{"await-chain": [ms...], "fan-out": [ms...]}``.
``... local N`` does the same in one process on the SDK's LocalConnection.
``... rtt URL N`` prints N sequential promise.get round-trip times ``{"rtt": [ms...]}``.
``... load URL SECONDS CONCURRENCY`` sends promise.create + promise.settle pairs from
CONCURRENCY coroutines for SECONDS and prints ``{"requests": n, "seconds": s}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from typing import Any

import aiohttp
from resonate.context import Context
from resonate.resonate import Resonate
from resonate_pg import PostgresConnection

FLOWS = {"await-chain": ("foo", "service-a"), "fan-out": ("zim", "service-g")}


def register(r: Resonate) -> None:
    async def foo(ctx: Context, n: int) -> int:
        return int(await ctx.options(target="service-b").rpc("bar", n)) + 1

    async def bar(ctx: Context, n: int) -> int:
        return int(await ctx.options(target="service-c").rpc("baz", n)) + 1

    async def baz(ctx: Context, n: int) -> int:
        return n

    async def zim(ctx: Context, n: int) -> int:
        a = ctx.options(target="service-h").rpc("rax", n)
        b = ctx.options(target="service-i").rpc("dop", n)
        return int(await a) + int(await b) + n

    async def rax(ctx: Context, n: int) -> int:
        return n + 1

    async def dop(ctx: Context, n: int) -> int:
        return 2 * n

    for fn in (foo, bar, baz, zim, rax, dop):
        r.register(fn, name=fn.__name__)


def node(url: str, group: str, pid: str) -> Resonate:
    """A started Resonate client of ``group`` on the server or database at ``url``."""
    if url.startswith("postgresql://"):
        conn = PostgresConnection(url, pid=pid, group=group, drive_timers=False)
        return Resonate(network=conn, group=group, pid=pid)
    return Resonate(url=url, group=group, pid=pid)


async def worker(url: str, groups: str, prefix: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    nodes = []
    for group in groups.split(","):
        r = node(url, group, f"{prefix}-{group}")
        register(r)
        nodes.append(r)
    await stop.wait()
    for r in nodes:
        await asyncio.wait_for(r.stop(), 5)


async def run_flows(r: Resonate, n: int) -> dict[str, list[float]]:
    run = uuid.uuid4().hex[:8]
    out: dict[str, list[float]] = {}
    for name, (func, group) in FLOWS.items():
        times = []
        for i in range(n + 3):  # 3 warm-up runs
            started = time.perf_counter()
            await r.options(target=group).rpc(f"{name}-{run}-{i}", func, i).result()
            if i >= 3:
                times.append((time.perf_counter() - started) * 1000)
        out[name] = times
    return out


async def flows(url: str, n: int) -> None:
    r = node(url, "bench", uuid.uuid4().hex)
    await asyncio.sleep(0.5)  # let the client's own listener connect
    print(json.dumps(await run_flows(r, n)), flush=True)
    await r.stop()


async def local(n: int) -> None:
    r = Resonate()
    register(r)
    print(json.dumps(await run_flows(r, n)), flush=True)
    await r.stop()


async def load(url: str, seconds: float, concurrency: int) -> None:
    count = 0
    deadline = time.perf_counter() + seconds
    prefix = uuid.uuid4().hex[:8]

    async def one(session: aiohttp.ClientSession, k: int) -> None:
        nonlocal count
        i = 0
        while time.perf_counter() < deadline:
            pid = f"load-{prefix}-{k}-{i}"
            for kind, data in (
                ("promise.create", {"id": pid, "timeoutAt": 2**62, "param": {}, "tags": {}}),
                ("promise.settle", {"id": pid, "state": "resolved", "value": {}}),
            ):
                body: dict[str, Any] = {"kind": kind, "head": {"corrId": pid,
                                        "version": "2026-04-01"}, "data": data}
                async with session.post(url + "/", json=body) as resp:
                    await resp.read()
                    assert resp.status < 400, resp.status
                count += 1
            i += 1

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, k) for k in range(concurrency)))
    print(json.dumps({"requests": count, "seconds": time.perf_counter() - started}), flush=True)


async def rtt(url: str, n: int) -> None:
    """Sequential promise.get round trips from an aiohttp client, like the SDK's."""
    times = []
    head = {"corrId": "rtt", "version": "2026-04-01"}
    if os.environ.get("RESONATE_TOKEN"):  # a server with auth: the token a node would send
        head["auth"] = os.environ["RESONATE_TOKEN"]
    body = {"kind": "promise.get", "head": head, "data": {"id": "nope"}}
    async with aiohttp.ClientSession() as session:
        for i in range(n + 20):
            started = time.perf_counter()
            async with session.post(url + "/", json=body) as resp:
                await resp.read()
            if i >= 20:
                times.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"rtt": times}), flush=True)


def main() -> None:
    mode, *args = sys.argv[1:]
    if mode == "worker":
        asyncio.run(worker(args[0], args[1], args[2]))
    elif mode == "flows":
        asyncio.run(flows(args[0], int(args[1])))
    elif mode == "local":
        asyncio.run(local(int(args[0])))
    elif mode == "rtt":
        asyncio.run(rtt(args[0], int(args[1])))
    elif mode == "load":
        asyncio.run(load(args[0], float(args[1]), int(args[2])))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
