"""A link switchboard whose loop is kept busy for the length of a ``with`` block."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from resonate_rpc_cli.links.switchboard import Switchboard


@contextlib.contextmanager
def busy_loop(switchboard: Switchboard, most_s: float = 10.0) -> Iterator[None]:
    """The switchboard's loop runs one blocking call until the block ends (at most
    ``most_s``): every request to it waits meanwhile."""
    stuck = threading.Event()
    assert switchboard._loop is not None
    switchboard._loop.call_soon_threadsafe(stuck.wait, most_s)
    try:
        yield
    finally:
        stuck.set()
