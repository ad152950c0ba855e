"""The store's redo log (server/redolog.py, server/store.py): a write is durable in the log
before SQLite has it, a reopened store folds the log in, a damaged tail is ignored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from resonate_rpc_cli.server import store as store_module
from resonate_rpc_cli.server.redolog import RedoLog
from resonate_rpc_cli.server.store import Store


def _killed_copy(path: Path, to: Path) -> Path:
    """The store's files as they are now, as a kill -9 would leave them."""
    to.mkdir()
    for suffix in ("", "-wal", "-log"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy(f"{path}{suffix}", f"{to / path.name}{suffix}")
    return to / path.name


def test_a_write_is_in_the_log_and_read_back_before_and_after_a_kill(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    store.write({"promises": [("a", b"A1"), ("b", b"B1")]}, {})
    store.write({"promises": [("a", b"A2")]}, {"promises": ["b"]})
    assert Path(f"{tmp_path / 's.sqlite'}-log").stat().st_size > 0
    assert store.get("promises", "a") == b"A2"
    assert store.get("promises", "b") is None  # deleted, though SQLite has not seen it yet
    copy = _killed_copy(tmp_path / "s.sqlite", tmp_path / "killed")
    store.close()
    assert not Path(f"{tmp_path / 's.sqlite'}-log").exists()  # folded in at a clean close

    reopened = Store.open(copy)
    assert reopened.get("promises", "a") == b"A2"
    assert reopened.get("promises", "b") is None
    assert reopened.page("promises", None, 10) == [("a", b"A2")]
    assert Path(f"{copy}-log").stat().st_size == 0  # folded in at open, then emptied
    reopened.close()


def test_a_damaged_tail_is_ignored_and_what_precedes_it_kept(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    store.write({"tasks": [("t1", b"one")]}, {})
    store.write({"tasks": [("t2", b"two")]}, {})
    copy = _killed_copy(tmp_path / "s.sqlite", tmp_path / "killed")
    store.close()
    log = Path(f"{copy}-log")
    log.write_bytes(log.read_bytes()[:-2])  # the last frame cut short

    reopened = Store.open(copy)
    assert reopened.get("tasks", "t1") == b"one"
    assert reopened.get("tasks", "t2") is None
    reopened.close()


def test_the_log_is_folded_into_sqlite_every_flush_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "FLUSH_ROWS", 3)
    store = Store.open(tmp_path / "s.sqlite")
    log = Path(f"{tmp_path / 's.sqlite'}-log")
    store.write({"promises": [("a", b"1"), ("b", b"2")]}, {})
    assert log.stat().st_size > 0
    store.write({"promises": [("c", b"3")]}, {})  # the third row: folded, log emptied
    assert log.stat().st_size == 0
    rows = store.connection.execute("SELECT id, data FROM promises ORDER BY id").fetchall()
    assert rows == [("a", b"1"), ("b", b"2"), ("c", b"3")]
    store.close()


def test_read_stops_at_a_frame_whose_checksum_fails(tmp_path: Path) -> None:
    log = RedoLog(tmp_path / "log")
    log.append([("promises", "a", b"x")])
    log.append([("promises", "b", b"y")])
    log.close()
    blob = bytearray((tmp_path / "log").read_bytes())
    blob[-1] ^= 0xFF  # flip a byte of the second frame's payload
    (tmp_path / "log").write_bytes(bytes(blob))
    assert RedoLog(tmp_path / "log").read() == [("promises", "a", b"x")]
