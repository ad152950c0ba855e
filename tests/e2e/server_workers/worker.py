"""A test worker process: the nine durable functions of the seed, for some groups.

``python -m tests.e2e.server_workers.worker URL GROUPS PID EXEC_LOG`` joins
each of the comma-separated ``GROUPS`` (one Resonate node per group, node id
``PID-GROUP``) on the server at ``URL`` and runs until SIGTERM.
Every execution of a function body appends one JSON line
``{"func", "arg", "pid"}`` to ``EXEC_LOG`` (fsync'd), so tests
can count executions per task. Environment knobs: ``WORKER_TTL`` (lease
seconds, default 60), ``WORKER_DELAY`` (seconds every body sleeps before
returning, default 0; a plain sleep, so it is re-done after a crash),
``WORKER_DELAY_FUNCS`` (comma-separated functions the delay applies to; default all).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta

from resonate.context import Context
from resonate.resonate import Resonate

from resonate_rpc_cli.contracts.flows import STEPS

DELAY = float(os.environ.get("WORKER_DELAY", "0"))
DELAY_FUNCS = set(filter(None, os.environ.get("WORKER_DELAY_FUNCS", "").split(",")))


def _worker(pid: str, exec_log: str) -> Callable[[Context, str, int], Awaitable[None]]:
    """One step's work: an fsync'd line in ``exec_log``, then the configured delay."""

    async def work(ctx: Context, func: str, arg: int) -> None:
        line = json.dumps({"func": func, "arg": arg, "pid": pid})
        with open(exec_log, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        if DELAY and (not DELAY_FUNCS or func in DELAY_FUNCS):
            await asyncio.sleep(DELAY)

    return work


def build(r: Resonate, pid: str, exec_log: str) -> None:
    work = _worker(pid, exec_log)

    async def foo(ctx: Context, n: int) -> int:
        await work(ctx, "foo", n)
        return int(await ctx.options(target=STEPS["bar"].group).rpc("bar", n)) + 1

    async def bar(ctx: Context, n: int) -> int:
        await work(ctx, "bar", n)
        return int(await ctx.options(target=STEPS["baz"].group).rpc("baz", n)) + 1

    async def baz(ctx: Context, n: int) -> int:
        await work(ctx, "baz", n)
        return n

    async def qux(ctx: Context, n: int) -> int:
        await work(ctx, "qux", n)
        await ctx.options(target=STEPS["quz"].group).detached("quz", n + 1)
        return n + 1

    async def quz(ctx: Context, n: int) -> int:
        await work(ctx, "quz", n)
        await ctx.options(target=STEPS["cog"].group).detached("cog", n + 1)
        return n + 1

    async def cog(ctx: Context, n: int) -> int:
        await work(ctx, "cog", n)
        return n

    async def zim(ctx: Context, n: int) -> int:
        a = ctx.options(target=STEPS["rax"].group).rpc("rax", n)
        b = ctx.options(target=STEPS["dop"].group).rpc("dop", n)
        await work(ctx, "zim", n)
        return int(await a) + int(await b) + n

    async def rax(ctx: Context, n: int) -> int:
        await work(ctx, "rax", n)
        return n + 1

    async def dop(ctx: Context, n: int) -> int:
        await work(ctx, "dop", n)
        return 2 * n

    for fn in (foo, bar, baz, qux, quz, cog, zim, rax, dop):
        r.register(fn, name=fn.__name__)


async def main() -> None:
    url, groups, pid_prefix, exec_log = sys.argv[1:5]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ttl = timedelta(seconds=float(os.environ.get("WORKER_TTL", "60")))
    nodes = []
    for group in groups.split(","):
        pid = f"{pid_prefix}-{group}"
        r = Resonate(url=url, group=group, pid=pid, ttl=ttl, subscription_refresh_secs=1.0)
        build(r, pid, exec_log)
        nodes.append(r)
        print(f"worker {group}/{pid} up", flush=True)
    await stop.wait()
    for r in nodes:
        await asyncio.wait_for(r.stop(), 5)


if __name__ == "__main__":
    asyncio.run(main())
