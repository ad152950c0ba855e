"""``LoopProbe``: how long the event loop was kept from running, measured from inside.

A coroutine sleeps ``interval_s`` and notes how much later than asked it
woke: that delay is time some callback held the loop (a stall every request
in flight waited out), or time the OS gave the CPU to another process. To
tell the two apart it also notes the CPU time the loop's thread used while the
probe waited, beyond the interval (``cpu``): on a busy shared machine that is
the part the server itself is responsible for. ``/rpcdemo/info`` reports the
longest of each so far and the recent notable stalls with their wall-clock
times, for benchmarks and for anyone wondering why the server hiccuped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TypedDict

#: Stalls at least this long (wall or CPU) are remembered individually.
NOTABLE_MS = 5.0


class LoopReport(TypedDict):
    """``/rpcdemo/info``'s ``loop``: the longest stalls so far and the recent notable ones."""

    stall_max_ms: float
    stall_cpu_max_ms: float
    #: ``[unix time, wall ms, CPU ms]`` each
    stalls: list[list[float]]


class LoopProbe:
    """Measures event-loop stalls; :meth:`run` is the probe coroutine."""

    def __init__(self, interval_s: float = 0.01, keep: int = 200) -> None:
        self.interval_s = interval_s
        self.max_ms = 0.0
        self.max_cpu_ms = 0.0
        self.recent: deque[tuple[float, float, float]] = deque(maxlen=keep)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked, cpu = loop.time(), time.thread_time()
            await asyncio.sleep(self.interval_s)
            late_ms = (loop.time() - asked - self.interval_s) * 1000
            cpu_ms = (time.thread_time() - cpu - self.interval_s) * 1000
            self.record(late_ms, max(cpu_ms, 0.0))

    def record(self, late_ms: float, cpu_ms: float) -> None:
        self.max_ms = max(self.max_ms, late_ms)
        self.max_cpu_ms = max(self.max_cpu_ms, cpu_ms)
        if max(late_ms, cpu_ms) >= NOTABLE_MS:
            self.recent.append((round(time.time(), 3), round(late_ms, 1), round(cpu_ms, 1)))

    def report(self) -> LoopReport:
        """``{"stall_max_ms", "stall_cpu_max_ms", "stalls": [[unix time, ms, cpu ms], ...]}``."""
        return {"stall_max_ms": round(self.max_ms, 1),
                "stall_cpu_max_ms": round(self.max_cpu_ms, 1),
                "stalls": [list(s) for s in self.recent]}
