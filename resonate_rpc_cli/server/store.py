"""The durable store: a SQLite command log plus the latest snapshot.

Every state-changing request is appended as ``(seq, now_ms, msgpack request)`` and
committed before its response is sent; on start the latest snapshot is loaded
and the log after it replayed (see ``engine.py``). Every ``snapshot_every``
entries the state is snapshotted and the log before it dropped, in one
transaction, so a restart replays a bounded tail.

SQLite runs in WAL mode. ``synchronous=NORMAL`` (the default) loses nothing
acknowledged when the *process* dies, ``kill -9`` included, because committed
pages are in the OS page cache; surviving power loss or an OS crash needs
``synchronous=FULL`` (``fsync=True``). The database is opened with an exclusive
lock held for the store's lifetime, so a second server on the same file fails
at once with :class:`StoreError` instead of corrupting the state.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, now INTEGER NOT NULL, req BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, state BLOB NOT NULL
);
"""


class StoreError(Exception):
    """The store cannot be opened or written; the message is one line for the user."""


@dataclass(frozen=True)
class LogEntry:
    seq: int
    now: int
    req: bytes


@dataclass(frozen=True)
class Loaded:
    """What is on disk: the latest snapshot (if any) and the log entries after it."""

    snapshot: bytes | None
    snapshot_seq: int
    entries: list[LogEntry]


class CommandLog:
    """Append-only command log with snapshots, in one SQLite file."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM log").fetchone()
        snap = conn.execute("SELECT seq FROM snapshot WHERE id = 1").fetchone()
        self.last_seq: int = max(int(row[0]), int(snap[0]) if snap else 0)
        self.entries_since_snapshot = 0

    @classmethod
    def open(cls, path: Path, fsync: bool = False) -> CommandLog:
        """Open (creating it and its directory, mode 0700) or fail with :class:`StoreError`."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"cannot create store directory {path.parent}: {exc}") from exc
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        try:
            _prepare(conn, path, fsync)
            store = cls(path, conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc):
                raise StoreError(f"store {path} is in use by another server") from exc
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"store {path} is not a valid store: {exc}") from exc
        except StoreError:
            conn.close()
            raise
        if os.name == "posix":
            os.chmod(path, 0o600)
        return store

    def load(self) -> Loaded:
        """The latest snapshot and every entry logged after it, in order."""
        snap = self._conn.execute("SELECT seq, state FROM snapshot WHERE id = 1").fetchone()
        snap_seq = int(snap[0]) if snap else 0
        rows = self._conn.execute(
            "SELECT seq, now, req FROM log WHERE seq > ? ORDER BY seq", (snap_seq,)
        ).fetchall()
        self.entries_since_snapshot = len(rows)
        return Loaded(
            snapshot=bytes(snap[1]) if snap else None,
            snapshot_seq=snap_seq,
            entries=[LogEntry(int(s), int(n), bytes(r)) for s, n, r in rows],
        )

    @property
    def uncommitted(self) -> bool:
        return self._conn.in_transaction

    def append(self, now: int, req: bytes) -> int:
        """Append one entry (in the open transaction; :meth:`commit` makes it durable)."""
        self.last_seq += 1
        try:
            if not self._conn.in_transaction:
                self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT INTO log (seq, now, req) VALUES (?, ?, ?)", (self.last_seq, now, req)
            )
        except sqlite3.Error as exc:
            self.last_seq -= 1
            raise StoreError(f"cannot write store {self.path}: {exc}") from exc
        self.entries_since_snapshot += 1
        return self.last_seq

    def commit(self) -> None:
        """Commit every entry appended since the last commit (one write for all of them)."""
        if not self._conn.in_transaction:
            return
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write store {self.path}: {exc}") from exc

    def write_snapshot(self, state: bytes) -> None:
        """Replace the snapshot with ``state`` (as of ``last_seq``) and drop the log before it."""
        self.commit()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT OR REPLACE INTO snapshot (id, seq, state) VALUES (1, ?, ?)",
                (self.last_seq, state),
            )
            self._conn.execute("DELETE FROM log WHERE seq <= ?", (self.last_seq,))
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise StoreError(f"cannot write snapshot to {self.path}: {exc}") from exc
        self.entries_since_snapshot = 0

    def close(self) -> None:
        """Commit, checkpoint the WAL into the main file and close."""
        try:
            self.commit()
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._conn.close()


def _prepare(conn: sqlite3.Connection, path: Path, fsync: bool) -> None:
    """Lock the store, set its journal, create its tables, check its format version."""
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    conn.execute("BEGIN EXCLUSIVE")  # take the lock now, not at the first write
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    version = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    if version is None:
        conn.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT_VERSION,))
    elif version[0] != FORMAT_VERSION:
        raise StoreError(
            f"store {path} has format {version[0]}, this server reads {FORMAT_VERSION}"
        )
    if conn.in_transaction:
        conn.execute("COMMIT")
