"""What the three workers share: the catalogue, the step, and the worker's life.

The catalogue is fixed, so every order has one right answer:

* ``widget`` costs 10, 100 in stock; ``gadget`` costs 25, 5 in stock;
  ``discontinued`` costs 99, none in stock (its orders are refused and refunded).

``step`` is where a function's own work happens: a ``ctx.run`` leaf that takes
``SAGA_STEP_SECONDS`` (default 0.2) of plain work, so a crash mid-step makes a
new worker do it again. When rpcdemo's optional step helper is installed, each
step is recorded before and after it runs (``rpcdemo chaos`` then counts steps
that ran twice); without it the application runs the same.

``serve(group, functions)`` runs one worker: ``Resonate`` built inside the event
loop (it reads ``RESONATE_URL``, ``RESONATE_TOKEN``), the functions registered
under the group, until SIGTERM or SIGINT, then a clean stop (exit 0).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from resonate.context import Context
from resonate.resonate import Resonate

try:  # optional: rpcdemo's step helper (records each step's runs; a no-op elsewhere)
    from resonate_rpc_cli.contracts.step_record import recorded
except ImportError:  # pragma: no cover - the application runs without rpcdemo

    def recorded[F: Callable[..., Any]](fn: F) -> F:
        return fn


PRICES = {"widget": 10, "gadget": 25, "discontinued": 99}
STOCK = {"widget": 100, "gadget": 5, "discontinued": 0}


def step_seconds() -> float:
    """How long each step's work takes (``SAGA_STEP_SECONDS``, default 0.2)."""
    try:
        return max(0.0, float(os.environ.get("SAGA_STEP_SECONDS", "0.2")))
    except ValueError:
        return 0.2


async def work() -> None:
    """The step's own work: here, only time (so a kill can land inside it)."""
    await asyncio.sleep(step_seconds())


def serve(group: str, functions: list[Callable[..., Any]]) -> None:
    """Run one worker of ``group`` with ``functions`` registered, until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(group, functions))
    except KeyboardInterrupt:
        pass
    sys.exit(0)


async def _serve(group: str, functions: list[Callable[..., Any]]) -> None:
    ttl = float(os.environ.get("SAGA_LEASE_SECONDS", "5"))
    resonate = Resonate(group=group, ttl=timedelta(seconds=ttl))
    for fn in functions:
        resonate.register(fn)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{group} worker {os.getpid()} serving {[f.__name__ for f in functions]}",
          flush=True)
    await stop.wait()
    try:
        await asyncio.wait_for(resonate.stop(), timeout=2.0)
    except TimeoutError:
        pass


__all__ = ["PRICES", "STOCK", "Context", "recorded", "serve", "step_seconds", "work"]
