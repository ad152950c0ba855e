"""The store's redo log (server/redolog.py, server/store.py): a write is durable in the log
before SQLite has it, a reopened store folds the log in, a damaged tail is ignored, and
nothing but the generation after the one SQLite folded is ever replayed, from its start:
not frames a fold left in place, not a generation without its beginning, not one whose
predecessor SQLite lost.

The log's file is preallocated and mapped, so its size says nothing: these tests read its
frames (``read_log``) or its bytes. kill -9 of a real writer is in
tests/e2e/test_server_redolog_kill.py."""

from __future__ import annotations

import errno
import mmap
import os
import shutil
import sqlite3
import struct
import zlib
from pathlib import Path

import msgspec
import pytest

from resonate_rpc_cli.server import redolog
from resonate_rpc_cli.server import store as store_module
from resonate_rpc_cli.server.redolog import CAPACITY, MAGIC, Change, RedoLog, read_log
from resonate_rpc_cli.server.store import Store, StoreError

PAGE = mmap.PAGESIZE


def _killed_copy(path: Path, to: Path) -> Path:
    """The store's files as they are now, as a kill -9 would leave them."""
    to.mkdir()
    for suffix in ("", "-wal", "-log"):
        if Path(f"{path}{suffix}").exists():
            shutil.copy(f"{path}{suffix}", f"{to / path.name}{suffix}")
    return to / path.name


START = len(MAGIC) + 8  # the magic, then the file's salt


def _empty(blob: bytes, size: int = CAPACITY) -> bool:
    """Whether ``blob`` is an empty log file of ``size`` bytes: its magic, a salt, zeros."""
    return len(blob) == size and blob.startswith(MAGIC) and blob[START:] == bytes(size - START)


def _frame_starts(blob: bytes) -> list[int]:
    """Where each frame of the first generation of ``blob`` starts, and (last) where its
    frames end."""
    starts = [START]
    first = struct.unpack_from(">IIII", blob, starts[-1])[2]
    while True:
        length, _, gen, index = struct.unpack_from(">IIII", blob, starts[-1])
        if length == 0 or gen != first or index != len(starts) - 1:
            return starts
        starts.append(starts[-1] + 16 + length)


def _opened(path: Path, fsync: bool = False, capacity: int = CAPACITY, folded: int = 0
            ) -> tuple[RedoLog, list[Change]]:
    """A log opened on ``path`` (SQLite holding generation ``folded``) and the changes its
    open folded."""
    got: list[Change] = []
    return RedoLog(path, lambda changes, _: got.extend(changes), fsync, capacity,
                   folded), got


def _row(key: str, size: int) -> list[Change]:
    return [("promises", key, key[0].encode() * size)]


def test_a_write_is_in_the_log_and_read_back_before_and_after_a_kill(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    store.write({"promises": [("a", b"A1"), ("b", b"B1")]}, {})
    store.write({"promises": [("a", b"A2")]}, {"promises": ["b"]})
    assert read_log(Path(f"{tmp_path / 's.sqlite'}-log")) == [
        ("promises", "a", b"A1"), ("promises", "b", b"B1"),
        ("promises", "a", b"A2"), ("promises", "b", None)]
    assert store.get("promises", "a") == b"A2"
    assert store.get("promises", "b") is None  # deleted, though SQLite has not seen it yet
    copy = _killed_copy(tmp_path / "s.sqlite", tmp_path / "killed")
    store.close()
    assert not Path(f"{tmp_path / 's.sqlite'}-log").exists()  # folded in at a clean close

    reopened = Store.open(copy)
    assert reopened.get("promises", "a") == b"A2"
    assert reopened.get("promises", "b") is None
    assert reopened.page("promises", None, 10) == [("a", b"A2")]
    # folded in at open, then made empty again
    assert _empty(Path(f"{copy}-log").read_bytes())
    reopened.close()


def test_a_frame_is_in_the_file_for_another_reader_as_soon_as_append_returns(
        tmp_path: Path) -> None:
    log, _ = _opened(tmp_path / "log")
    assert log.read() == [] and read_log(tmp_path / "log") == []  # all zeros: no frame
    log.append(_row("a", 10))
    assert read_log(tmp_path / "log") == _row("a", 10)  # a fresh reader of the file
    log.append(_row("b", 5000))  # across a page boundary
    assert read_log(tmp_path / "log") == _row("a", 10) + _row("b", 5000)
    assert log.size == _frame_starts((tmp_path / "log").read_bytes())[-1]
    log.close()


def test_a_damaged_tail_is_ignored_and_what_precedes_it_kept(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    store.write({"tasks": [("t1", b"one")]}, {})
    store.write({"tasks": [("t2", b"two")]}, {})
    copy = _killed_copy(tmp_path / "s.sqlite", tmp_path / "killed")
    store.close()
    log = Path(f"{copy}-log")
    blob = bytearray(log.read_bytes())
    end = _frame_starts(bytes(blob))[-1]
    blob[end - 2:end] = bytes(2)  # the last frame's payload only partly copied
    log.write_bytes(bytes(blob))

    reopened = Store.open(copy)
    assert reopened.get("tasks", "t1") == b"one"
    assert reopened.get("tasks", "t2") is None
    reopened.close()


def test_a_torn_frame_is_gone_after_open_and_never_read_after_new_frames(
        tmp_path: Path) -> None:
    path = tmp_path / "log"
    log, _ = _opened(path)
    log.append(_row("a", 100))
    log.append(_row("b", 300))
    log.append(_row("c", 300))
    log.close()
    blob = bytearray(path.read_bytes())
    starts = _frame_starts(bytes(blob))
    blob[starts[2] - 5:starts[2]] = bytes(5)  # "b" torn: its header and part of its payload
    path.write_bytes(bytes(blob))

    log, folded = _opened(path)
    assert folded == _row("a", 100)  # up to the torn frame, not past it to "c"
    assert _empty(path.read_bytes())
    log.append(_row("x", 100))  # ends exactly where "b" started
    assert log.size == starts[1]
    log.append(_row("y", 1))
    assert read_log(path) == _row("x", 100) + _row("y", 1)
    log.close()
    _, folded = _opened(path, folded=1)  # the open folded generation 1 ("a")
    assert folded == _row("x", 100) + _row("y", 1)


@pytest.mark.parametrize("fsync", [False, True])
def test_after_clear_only_new_frames_are_read(tmp_path: Path, fsync: bool) -> None:
    path = tmp_path / "log"
    log, _ = _opened(path, fsync)
    for key, size in (("a", 100), ("b", 5000), ("c", 40)):
        log.append(_row(key, size))
    starts = _frame_starts(path.read_bytes())
    old = log.generation
    log.clear()  # the old frames stay where they are
    new = log.generation
    assert log.size == START and log.read() == [] and read_log(path, new) == []
    log.append(_row("x", 100))  # ends exactly where the old "b" frame started
    assert log.size == starts[1]
    assert log.read() == read_log(path, new) == read_log(path) == _row("x", 100)
    log.append(_row("y", 3))  # shorter than anything before, inside the old "b"
    assert log.read() == read_log(path, new) == _row("x", 100) + _row("y", 3)
    log.close()
    _, folded = _opened(path, fsync, folded=old)
    assert folded == _row("x", 100) + _row("y", 3)


def test_a_log_grows_past_its_capacity_and_shrinks_back_at_clear(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log, _ = _opened(path, capacity=PAGE)
    assert log.capacity == path.stat().st_size == PAGE
    log.append(_row("a", 100))
    log.append(_row("b", 3 * PAGE))  # more than is left: doubled twice
    assert log.capacity == path.stat().st_size == 4 * PAGE
    assert log.read() == read_log(path) == _row("a", 100) + _row("b", 3 * PAGE)
    log.clear()  # 4 pages is not past 4 times the first capacity: kept
    assert log.capacity == path.stat().st_size == 4 * PAGE
    assert read_log(path, log.generation) == []
    log.append(_row("c", 9 * PAGE))
    assert log.capacity == path.stat().st_size == 16 * PAGE
    assert read_log(path) == _row("c", 9 * PAGE)
    log.clear()  # past 4 times: cut back to the first capacity, empty
    assert log.capacity == path.stat().st_size == PAGE
    assert _empty(path.read_bytes(), PAGE)
    log.append(_row("d", 10))
    assert read_log(path) == _row("d", 10)
    log.close(remove=True)
    assert not path.exists()


def test_without_posix_fallocate_the_file_is_sized_with_zeros(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "posix_fallocate")  # as on macOS
    path = tmp_path / "log"
    log, _ = _opened(path, capacity=PAGE)
    assert _empty(path.read_bytes(), PAGE)
    assert os.stat(path).st_blocks * 512 >= PAGE
    log.append(_row("a", 5 * PAGE))
    assert log.capacity == path.stat().st_size == 8 * PAGE
    assert read_log(path) == _row("a", 5 * PAGE)
    assert os.stat(path).st_blocks * 512 >= 8 * PAGE  # written, not a sparse hole
    log.close()


def test_the_log_is_folded_into_sqlite_every_flush_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "FLUSH_ROWS", 3)
    store = Store.open(tmp_path / "s.sqlite")
    log = Path(f"{tmp_path / 's.sqlite'}-log")
    store.write({"promises": [("a", b"1"), ("b", b"2")]}, {})
    assert read_log(log) == [("promises", "a", b"1"), ("promises", "b", b"2")]
    store.write({"promises": [("c", b"3")]}, {})  # the third row: folded, log emptied
    folded = int(store.connection.execute(
        "SELECT value FROM meta WHERE key = 'log_generation'").fetchone()[0])
    assert read_log(log, folded) == [("promises", "a", b"1"), ("promises", "b", b"2"),
                                     ("promises", "c", b"3")]  # logged, then folded
    assert read_log(log, folded + 1) == []  # the generation after it: nothing yet
    rows = store.connection.execute("SELECT id, data FROM promises ORDER BY id").fetchall()
    assert rows == [("a", b"1"), ("b", b"2"), ("c", b"3")]
    store.close()


def test_read_stops_at_a_frame_whose_checksum_fails(tmp_path: Path) -> None:
    log, _ = _opened(tmp_path / "log")
    log.append([("promises", "a", b"x")])
    log.append([("promises", "b", b"y")])
    log.close()
    blob = bytearray((tmp_path / "log").read_bytes())
    blob[_frame_starts(bytes(blob))[-1] - 1] ^= 0xFF  # a byte of the second frame's payload
    (tmp_path / "log").write_bytes(bytes(blob))
    assert read_log(tmp_path / "log") == [("promises", "a", b"x")]


def test_a_failed_fold_at_open_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log, _ = _opened(path)
    log.append(_row("a", 10))
    log.close()
    before = path.read_bytes()

    def fold(changes: list[Change], generation: int) -> None:
        raise OSError("the database is gone")

    with pytest.raises(OSError, match="gone"):
        RedoLog(path, fold)
    assert path.read_bytes() == before


def test_a_full_disk_is_a_store_error_at_open_and_at_append(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    store = Store.open(tmp_path / "s.sqlite")
    store.write({"promises": [("a", b"A")]}, {})
    with monkeypatch.context() as patch:
        patch.setattr(os, "posix_fallocate", full)
        with pytest.raises(StoreError, match="No space left"):
            store.write({"promises": [("big", bytes(CAPACITY))]}, {})  # needs a larger file
        assert store.get("promises", "big") is None  # not logged, not kept
        store.write({"promises": [("b", b"B")]}, {})  # fits: no allocation
        with pytest.raises(StoreError, match="No space left"):
            Store.open(tmp_path / "other.sqlite")
    copy = _killed_copy(tmp_path / "s.sqlite", tmp_path / "killed")
    store.close()
    reopened = Store.open(copy)
    assert reopened.page("promises", None, 10) == [("a", b"A"), ("b", b"B")]
    reopened.close()


def test_frames_a_fold_left_in_place_are_replayed_only_if_sqlite_lost_that_fold(
        tmp_path: Path) -> None:
    """A kill right after a fold: the old frames are still in the file, and SQLite holds
    them. Replaying them would set rows back to values they had before the last ones."""
    path = tmp_path / "log"
    log, _ = _opened(path, folded=6)
    assert log.generation == 7
    log.append(_row("a", 10))
    log.append(_row("b", 10))
    log.clear()  # generation 7 folded (SQLite: 7); nothing written since
    log.close()
    _, folded = _opened(path, folded=7)
    assert folded == []
    _, folded = _opened(path, folded=6)  # (the open above made the file empty)
    assert folded == []
    log, _ = _opened(path, folded=6)
    log.append(_row("a", 10))
    log.append(_row("b", 10))
    log.close()
    _, folded = _opened(path, folded=6)  # SQLite never got generation 7: it is replayed
    assert folded == _row("a", 10) + _row("b", 10)


def test_a_generation_is_replayed_from_its_start_and_after_its_predecessor_only(
        tmp_path: Path) -> None:
    """What a power loss without fsync may leave: the first page of the log older than
    the next, or the log newer than what SQLite kept. Nothing of it is replayed (the last
    writes are lost), never a part of a generation without its start, never a generation
    over a state that lacks the one before it."""
    path = tmp_path / "log"
    log, _ = _opened(path, folded=2)
    for key in "abc":
        log.append(_row(key, 10))
    log.close()
    good = path.read_bytes()
    _, folded = _opened(path, folded=1)  # SQLite lost the fold of generation 2
    assert folded == []
    path.write_bytes(good)
    _, folded = _opened(path, folded=3)  # generation 3 is already in SQLite
    assert folded == []
    blob = bytearray(good)
    blob[_frame_starts(good)[1] - 1] ^= 0xFF  # the first frame is damaged: b, c unreachable
    path.write_bytes(bytes(blob))
    _, folded = _opened(path, folded=2)
    assert folded == []
    salt = good[len(MAGIC):START]
    blob = bytearray(good)  # the first frame replaced by a frame of another generation
    payload = bytes(blob[START + 16:_frame_starts(good)[1]])
    crc = zlib.crc32(payload, zlib.crc32(salt + struct.pack(">II", 9, 0)))
    struct.pack_into(">IIII", blob, START, len(payload), crc, 9, 0)
    path.write_bytes(bytes(blob))
    _, folded = _opened(path, folded=2)
    assert folded == []
    blob = bytearray(good)  # the first frame is generation 3's second: a start missing
    struct.pack_into(">IIII", blob, START, len(payload),
                     zlib.crc32(payload, zlib.crc32(salt + struct.pack(">II", 3, 1))), 3, 1)
    path.write_bytes(bytes(blob))
    _, folded = _opened(path, folded=2)
    assert folded == []
    path.write_bytes(good)
    _, folded = _opened(path, folded=2)
    assert folded == _row("a", 10) + _row("b", 10) + _row("c", 10)


def test_a_log_written_before_generations_is_folded_once(tmp_path: Path) -> None:
    """A server killed before this version left ``length | crc32`` frames from the
    file's start: the next open folds them, as that server's open would have."""
    path = tmp_path / "log"
    blob = b""
    for changes in (_row("a", 5), _row("b", 7)):
        payload = msgspec.msgpack.encode(changes)
        blob += struct.pack(">II", len(payload), zlib.crc32(payload)) + payload
    path.write_bytes(blob + bytes(3))
    generations: list[int] = []
    got: list[Change] = []

    def fold(changes: list[Change], generation: int) -> None:
        got.extend(changes)
        generations.append(generation)

    log = RedoLog(path, fold, folded=4)
    assert got == _row("a", 5) + _row("b", 7) and generations == [5]
    assert log.generation == 6 and _empty(path.read_bytes())
    log.close()


def test_a_shrink_that_fails_at_a_fold_leaves_a_log_the_next_open_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fold's shrink cuts the file and cannot allocate it again (a full disk): the
    fold fails; an append the server makes after it must still be read by the next open
    (found in review: the file was mapped again without its MAGIC, and read as empty)."""
    store = Store.open(tmp_path / "s.sqlite")
    for i in range(30):  # one generation, past SHRINK_FACTOR times the first capacity
        store.append([("promises", f"big{i}", bytes(200_000))])
    real = redolog._allocate
    failures = [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))]

    def allocate_once_full(fd: int, size: int) -> None:
        if failures:
            raise failures.pop()
        real(fd, size)

    monkeypatch.setattr(redolog, "_allocate", allocate_once_full)
    with pytest.raises(StoreError, match="No space left"):
        store.flush()
    store.append([("promises", "acked", b"A")])  # acknowledged after the failed fold
    copy = _killed_copy(tmp_path / "s.sqlite", tmp_path / "killed")
    reopened = Store.open(copy)
    assert reopened.get("promises", "acked") == b"A"
    assert reopened.get("promises", "big29") == bytes(200_000)
    reopened.close()
    store.close()


def _format(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()[0])
    finally:
        conn.close()


def test_a_store_a_log_may_hold_rows_of_is_refused_by_a_server_from_before_generations(
        tmp_path: Path) -> None:
    """Such a server reads this log as empty (found in review: after a kill, a downgrade
    lost the log's rows without a word); a store open or killed has format 3, which it
    refuses with its one-line error, and a clean close writes format 2 again."""
    store = Store.open(tmp_path / "s.sqlite")
    store.write({"promises": [("a", b"A")]}, {})
    copy = _killed_copy(tmp_path / "s.sqlite", tmp_path / "killed")
    store.close()
    assert _format(tmp_path / "s.sqlite") == "2"
    assert _format(copy) == "3"
    reopened = Store.open(copy)  # this server reads both
    assert reopened.get("promises", "a") == b"A"
    reopened.close()
    assert _format(copy) == "2"


def test_a_frame_forged_without_the_salt_is_never_replayed(tmp_path: Path) -> None:
    """Bytes a client chose stay in the file after a fold (its promise's data, in an old
    generation's frames). Were they a well-formed frame of the next generation and
    index right where a crash ended the real frames, they would be replayed: the crc
    covers the file's salt, which no client can know."""
    path = tmp_path / "log"
    log, _ = _opened(path, folded=2)
    log.append(_row("a", 10))
    log.close()
    good = path.read_bytes()
    end = _frame_starts(good)[-1]
    forged_payload = msgspec.msgpack.encode([("promises", "victim", b"forged")])

    def with_frame(seed_salt: bytes) -> bytes:
        crc = zlib.crc32(forged_payload, zlib.crc32(seed_salt + struct.pack(">II", 3, 1)))
        frame = struct.pack(">IIII", len(forged_payload), crc, 3, 1) + forged_payload
        return good[:end] + frame + good[end + len(frame):]

    path.write_bytes(with_frame(b"\0" * 8))  # what a client could compute: no salt
    _, folded = _opened(path, folded=2)
    assert folded == _row("a", 10)
    path.write_bytes(with_frame(good[len(MAGIC):START]))  # with the file's salt it would be
    _, folded = _opened(path, folded=2)
    assert folded == [*_row("a", 10), ("promises", "victim", b"forged")]
