"""The redo log's kill -9 test's writer: ``python -m tests.e2e._redolog_writer STORE [fsync]``.

Opens the store and appends one row at a time for ever, printing ``ack I`` after each
:meth:`Store.append` returned (what a server would acknowledge). Rows are folded every
16 (so the log is cleared mid-stream) and every 8th is ~600 KB (so the log grows).
"""

from __future__ import annotations

import sys
from pathlib import Path

from resonate_rpc_cli.server import store


def row(i: int) -> bytes:
    """The data of row ``p{i}``."""
    unit = f"{i}:".encode()
    return unit * (600_000 // len(unit) if i % 8 == 7 else 1 + i * 7919 % 300)


def main() -> None:
    store.FLUSH_ROWS = 16
    s = store.Store.open(Path(sys.argv[1]), fsync=sys.argv[2:] == ["fsync"])
    i = 0
    while True:
        s.append([("promises", f"p{i}", row(i))])
        sys.stdout.write(f"ack {i}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main()
