"""Keeping Python's cyclic garbage collector from stalling a server that holds a million records.

A full collection walks every tracked object; with a large state that is a
pause of a second or more, and the collector runs one each time the old
generation has grown by a quarter, so the pauses grow with the store. The
state's records form no reference cycles (a dropped promise is freed by its
reference count alone), so they need no walking:

* :func:`no_gc` turns the collector off while a store loads (millions of new
  objects would otherwise trigger collections over the growing heap);
* :func:`freeze` (after loading, then every ``FREEZE_EVERY_S`` from
  :func:`freeze_loop`) collects the young generations and moves every
  surviving object to the permanent generation, which collections skip. What
  is left to walk is only what was allocated since the last freeze.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator

FREEZE_EVERY_S = 10.0


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic collector off for the block (on again after it, if it was on)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def freeze() -> None:
    """Collect the young generations, then exempt every survivor from future collections."""
    gc.collect(1)
    gc.freeze()


async def freeze_loop(interval_s: float = FREEZE_EVERY_S) -> None:
    while True:
        await asyncio.sleep(interval_s)
        freeze()
