"""A store's writer killed with SIGKILL mid-stream loses no acknowledged row (server/redolog.py:
the log's frames are copied into a shared mapping, so they are in the page cache on return)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from resonate_rpc_cli.server.store import Store
from tests.e2e._redolog_writer import row
from tests.procs import PYTHON, ProcGroup, spawn, wait_until

pytestmark = pytest.mark.e2e


def _acked(log: Path) -> list[int]:
    """The rows the writer acknowledged (whole lines only: a kill may cut the last)."""
    return [int(line[4:]) for line in log.read_text().splitlines(keepends=True)
            if line.startswith("ack ") and line.endswith("\n")]


@pytest.mark.parametrize(("kill_after", "fsync"), [(40, False), (150, False), (100, True)])
def test_every_acknowledged_row_survives_a_kill_9(
        procs: ProcGroup, tmp_path: Path, kill_after: int, fsync: bool) -> None:
    path = tmp_path / "s.sqlite"
    out = tmp_path / "writer.log"
    writer = procs.add(spawn([PYTHON, "-m", "tests.e2e._redolog_writer", str(path),
                              *(["fsync"] if fsync else [])], out))
    wait_until(lambda: len(_acked(out)) >= kill_after or not writer.alive(), 60,
               f"{kill_after} acknowledged rows")
    assert writer.alive(), writer.output()
    writer.signal(signal.SIGKILL)
    assert writer.popen.wait(5) == -signal.SIGKILL
    acked = _acked(out)
    assert acked == list(range(len(acked))) and len(acked) >= kill_after

    store = Store.open(path, fsync)
    try:
        rows = dict(store.page("promises", None, 10**6))
    finally:
        store.close()
    for i in acked:
        assert rows.get(f"p{i}") == row(i), f"acknowledged row p{i} lost or damaged"
    # nothing but the acknowledged rows and the one being appended when the kill came
    assert set(rows) <= {f"p{i}" for i in range(len(acked) + 1)}
    if f"p{len(acked)}" in rows:
        assert rows[f"p{len(acked)}"] == row(len(acked))
