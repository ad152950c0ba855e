"""Keeping Python's cyclic garbage collector from stalling a server that holds a million records.

A full collection walks every tracked object; with a large state that is a
pause of a second or more, and the collector runs one each time the old
generation has grown by a quarter, so the pauses grow with the store. The
state's records form no reference cycles (a dropped promise is freed by its
reference count alone), so they need no walking:

* a server reading its store (millions of new objects, which would otherwise
  trigger collections over the growing heap) freezes what it read every
  ``FREEZE_PAGES`` pages; the collector stays on for what serving allocates;
* :func:`freeze` (after loading, then every ``FREEZE_EVERY_S`` from
  :func:`freeze_loop`) collects the young generations and moves every
  surviving object to the permanent generation, which collections skip. What
  is left to walk is only what was allocated since the last freeze.
"""

from __future__ import annotations

import asyncio
import gc

FREEZE_EVERY_S = 10.0
#: Pages of records read (server/loader.py) between freezes while a store is read.
FREEZE_PAGES = 40


def freeze() -> None:
    """Collect the young generations, then exempt every survivor from future collections."""
    gc.collect(1)
    gc.freeze()


async def freeze_loop(interval_s: float = FREEZE_EVERY_S) -> None:
    while True:
        await asyncio.sleep(interval_s)
        freeze()
