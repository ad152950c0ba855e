"""The durable store: one SQLite table per kind of record, keyed by id.

``promises``, ``tasks`` and ``schedules`` each hold ``(id, data)`` with ``data``
the msgpack of one record (a promise with its timeout, a task with its
timeout, a schedule). A request's changed records are upserted (or deleted)
in one transaction, committed before its response is sent (several requests
share a commit: group commit). Nothing is ever proportional to the whole
state except :meth:`Store.load`, which reads a table whole. A server starts
without reading the promises and tasks: it reads them a page at a time
(:meth:`Store.page`) after it is serving, and any one it needs before that by
id (:meth:`Store.get`); see :mod:`.loader`.

SQLite runs in WAL mode. ``synchronous=NORMAL`` (the default) loses nothing
acknowledged when the *process* dies, ``kill -9`` included, because committed
pages are in the OS page cache; surviving power loss or an OS crash needs
``synchronous=FULL`` (``fsync=True``). The database is opened with an exclusive
lock held for the store's lifetime, so a second server on the same file fails
at once with :class:`StoreError` instead of corrupting the state.

A store of an older format (format 1: a command log plus snapshots) is not read:
opening one fails with one :class:`StoreError` line.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

FORMAT_VERSION = "2"
TABLES = ("promises", "tasks", "schedules")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS promises (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID
"""


class StoreError(Exception):
    """The store cannot be opened or written; the message is one line for the user."""


class Store:
    """Three id → record tables in one SQLite file, written in transactions."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self.bytes_written = 0

    @classmethod
    def open(cls, path: Path, fsync: bool = False) -> Store:
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
            _prepare(conn, fsync)
            store = cls(path, conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc):
                raise StoreError(f"store {path} is in use by another server") from exc
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"store {path} is not a valid store: {exc}") from exc
        except StoreError as exc:
            conn.close()
            raise StoreError(f"store {path} {exc}") from exc
        if os.name == "posix":
            os.chmod(path, 0o600)
        return store

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def load(self, table: str, chunk: int = 20_000) -> Iterator[list[bytes]]:
        """Every record of ``table`` (ordered by id), ``chunk`` at a time."""
        cursor = self._conn.execute(f"SELECT data FROM {_table(table)}")
        while rows := cursor.fetchmany(chunk):
            yield [r[0] for r in rows]

    def get(self, table: str, key: str) -> bytes | None:
        """The row of ``key`` in ``table`` (``None`` if there is none)."""
        row = self._conn.execute(f"SELECT data FROM {_table(table)} WHERE id = ?",
                                 (key,)).fetchone()
        return row[0] if row is not None else None

    def page(self, table: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Up to ``limit`` rows ``(id, data)`` of ``table`` with ids above ``after``, in id order.

        A fresh statement per page, so writes between pages are safe (an open
        cursor over a table written on the same connection is undefined).
        """
        name = _table(table)
        if after is None:
            return self._conn.execute(
                f"SELECT id, data FROM {name} ORDER BY id LIMIT ?", (limit,)).fetchall()
        return self._conn.execute(
            f"SELECT id, data FROM {name} WHERE id > ? ORDER BY id LIMIT ?",
            (after, limit)).fetchall()

    def write(self, upserts: dict[str, list[tuple[str, bytes]]],
              deletes: dict[str, list[str]]) -> None:
        """Apply one batch of changes in one committed transaction (durable on return)."""
        if not any(upserts.values()) and not any(deletes.values()):
            return
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table, rows in upserts.items():
                if rows:
                    conn.executemany(
                        f"INSERT OR REPLACE INTO {_table(table)} (id, data) VALUES (?, ?)", rows)
                    self.bytes_written += sum(len(r[1]) for r in rows)
            for table, ids in deletes.items():
                if ids:
                    conn.executemany(f"DELETE FROM {_table(table)} WHERE id = ?",
                                     ((i,) for i in ids))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise StoreError(f"cannot write store {self.path}: {exc}") from exc

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._conn.close()


def _prepare(conn: sqlite3.Connection, fsync: bool) -> None:
    """Lock, set up and check the file (format :data:`FORMAT_VERSION` only)."""
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    conn.execute("BEGIN EXCLUSIVE")  # take the lock now, not at the first write
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    if row is None:
        conn.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT_VERSION,))
    elif row[0] != FORMAT_VERSION:
        raise StoreError(f"has format {row[0]}; this server reads only format {FORMAT_VERSION} "
                         "(move the file aside to start with an empty store)")
    conn.execute("COMMIT")


def _table(name: str) -> str:
    if name not in TABLES:
        raise ValueError(f"no table {name}")
    return name
