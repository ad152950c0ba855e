"""``Sweeper``: retention and ``rpcdemo gc`` on the event loop, in small batches.

Each batch drops at most ``BATCH`` call trees (:func:`.retention.collect`) and
commits the deletions; between batches the sweeper yields to the event loop,
so requests keep being served while a large backlog is collected. With
``--retain`` it sweeps every ``interval`` seconds (a tenth of the horizon,
between 1 and 60 s); ``/rpcdemo/gc`` runs one sweep on demand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.retention import Collected

log = logging.getLogger("rpcdemo.server")

#: Trees dropped per batch (one commit each) before yielding to the event loop.
BATCH = 50


class Sweeper:
    """Runs retention sweeps through ``guard`` (which turns a store failure fatal)."""

    def __init__(self, engine: Engine, guard: Callable[[Callable[[], Any]], Any],
                 loaded: asyncio.Event | None = None) -> None:
        self.engine = engine
        self.guard = guard
        #: set once the store is read: a sweep waits for it (it needs every record)
        self.loaded = loaded
        self.total = Collected()
        self._lock = asyncio.Lock()

    async def sweep(self, older_than_s: float, dry_run: bool = False) -> Collected:
        """Drop (or count) every tree settled more than ``older_than_s`` ago."""
        older_than_ms = int(older_than_s * 1000)
        if self.loaded is not None:
            await self.loaded.wait()
        async with self._lock:
            refs = self.engine.state.referenced()
            done = Collected()
            while True:
                batch: Collected = self.guard(
                    lambda: self.engine.collect(older_than_ms, BATCH, refs, dry_run))
                done.add(batch)
                if dry_run or not batch.more:
                    break
                await asyncio.sleep(0)
        if not dry_run:
            self.total.add(done)
        if done.trees and not dry_run:
            log.info("retention dropped %d trees (%d promises, %d bytes)",
                     done.trees, done.promises, done.bytes)
        return done

    async def run(self, retain_s: float) -> None:
        """Sweep every ``interval(retain_s)`` seconds, forever."""
        while True:
            await asyncio.sleep(interval(retain_s))
            await self.sweep(retain_s)


def interval(retain_s: float) -> float:
    """How often retention sweeps: a tenth of the horizon, between 1 and 60 seconds."""
    return min(max(retain_s / 10, 1.0), 60.0)
