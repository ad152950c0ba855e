"""The durable store: one SQLite table per kind of record, keyed by id, and a redo log.

``promises``, ``tasks`` and ``schedules`` each hold ``(id, data)`` with ``data``
the msgpack of one record (a promise with its timeout, a task with its
timeout, a schedule). A request's changed records are upserted (or deleted)
together, durable before its response is sent (several requests share one
write: group commit). A write is one frame appended to the store's redo log
(``<store>-log``, :mod:`.redolog`); the logged rows are folded into SQLite in one
transaction every :data:`FLUSH_ROWS` rows or :data:`FLUSH_S` seconds, with the log's
generation they end recorded in the same commit (``meta.log_generation``), and the log
starts its next generation. Opening a store first folds in what its log holds
(a server killed between two folds), so the tables are whole before anything
reads them; :meth:`Store.get` sees rows not folded yet. Nothing is ever
proportional to the whole state except :meth:`Store.load`, which reads a table
whole. A server starts without reading the promises and tasks: it reads them a
page at a time (:meth:`Store.page`) after it is serving, and any one it needs
before that by id (:meth:`Store.get`); see :mod:`.loader`.

SQLite runs in WAL mode. ``synchronous=NORMAL`` (the default) and the log's
copy into its shared mapping lose nothing acknowledged when the *process* dies,
``kill -9`` included, because what was copied is in the OS page cache; surviving
power loss or an OS crash needs ``fsync=True`` (``synchronous=FULL`` and ``msync``
after each log append). The database is opened with an exclusive lock held for
the store's lifetime (the log is opened only under it), so a second server on
the same file fails at once with :class:`StoreError` instead of corrupting the
state.

A store of an older format (format 1: a command log plus snapshots) is not read:
opening one fails with one :class:`StoreError` line.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from resonate_rpc_cli.server.redolog import Change, RedoLog

FORMAT_VERSION = "2"
#: The format a store has while open (or killed): a redo log with generations may hold
#: rows SQLite does not have, which a server from before generations would not read (it
#: refuses this format instead of losing them); a clean close writes 2 again.
LOGGED_FORMAT = "3"
TABLES = ("promises", "tasks", "schedules")
#: Rows held in the log before they are folded into SQLite (each costs ~10-20 µs
#: there, so a fold is a bounded pause); a write of at least this many rows goes
#: straight to SQLite.
FLUSH_ROWS = 128
#: ... and the longest a logged row waits for its fold while writes come in.
FLUSH_S = 0.5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS promises (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID
"""


class StoreError(Exception):
    """The store cannot be opened or written; the message is one line for the user."""


class Store:
    """Three id → record tables in one SQLite file, written through a redo log."""

    def __init__(self, path: Path, conn: sqlite3.Connection, log: RedoLog) -> None:
        self.path = path
        self._conn = conn
        self._log = log
        self.bytes_written = 0
        #: Rows logged but not yet in SQLite, per table (``None``: deleted).
        self._pending: dict[str, dict[str, bytes | None]] = {t: {} for t in TABLES}
        self._npending = 0
        self._deleting: set[str] = set()
        self._flushed_at = time.monotonic()

    @classmethod
    def open(cls, path: Path, fsync: bool = False) -> Store:
        """Open (creating it and its directory, mode 0700) or fail with :class:`StoreError`.

        What the redo log holds is folded into the tables before this returns."""
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
            store = cls(path, conn, _open_log(conn, Path(f"{path}-log"), fsync))
            _set_format(conn, LOGGED_FORMAT)
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc):
                raise StoreError(f"store {path} is in use by another server") from exc
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"store {path} is not a valid store: {exc}") from exc
        except OSError as exc:
            conn.close()
            raise StoreError(f"cannot open the redo log of store {path}: {exc}") from exc
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
        self.flush()
        cursor = self._conn.execute(f"SELECT data FROM {_table(table)}")
        while rows := cursor.fetchmany(chunk):
            yield [r[0] for r in rows]

    def get(self, table: str, key: str) -> bytes | None:
        """The row of ``key`` in ``table`` (``None`` if there is none)."""
        pending = self._pending[_table(table)]
        if key in pending:
            return pending[key]
        row = self._conn.execute(f"SELECT data FROM {table} WHERE id = ?",
                                 (key,)).fetchone()
        return row[0] if row is not None else None

    def page(self, table: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Up to ``limit`` rows ``(id, data)`` of ``table`` with ids above ``after``, in id order.

        A fresh statement per page, so writes between pages are safe (an open
        cursor over a table written on the same connection is undefined). Rows
        written since the last fold may be older here (the caller holds the newer
        record); a table with deletes not folded yet is folded first.
        """
        name = _table(table)
        if name in self._deleting:
            self.flush()
        if after is None:
            return self._conn.execute(
                f"SELECT id, data FROM {name} ORDER BY id LIMIT ?", (limit,)).fetchall()
        return self._conn.execute(
            f"SELECT id, data FROM {name} WHERE id > ? ORDER BY id LIMIT ?",
            (after, limit)).fetchall()

    def write(self, upserts: dict[str, list[tuple[str, bytes]]],
              deletes: dict[str, list[str]]) -> None:
        """Apply one batch of changes, durable on return (see :meth:`append`)."""
        changes: list[Change] = [(_table(t), i, d) for t, rows in upserts.items()
                                 for i, d in rows]
        changes += [(_table(t), i, None) for t, ids in deletes.items() for i in ids]
        self.append(changes)

    def append(self, changes: list[Change]) -> None:
        """Apply ``(table, id, row or None)`` changes, durable on return: one log append,
        or one SQLite transaction for a batch of :data:`FLUSH_ROWS` rows or more."""
        if not changes:
            return
        if len(changes) < FLUSH_ROWS:
            try:
                self.bytes_written += self._log.append(changes)
            except OSError as exc:
                raise StoreError(f"cannot write the redo log of store {self.path}: {exc}") \
                    from exc
        else:
            self.bytes_written += sum(len(d) for _, _, d in changes if d is not None)
        self._hold(changes)
        if self._npending >= FLUSH_ROWS or time.monotonic() - self._flushed_at >= FLUSH_S:
            self.flush()

    def idle_flush(self) -> None:
        """Fold what the log holds if it has waited :data:`FLUSH_S` (call when idle)."""
        if self._npending and time.monotonic() - self._flushed_at >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Fold every logged row into SQLite in one transaction, then empty the log."""
        self._flushed_at = time.monotonic()
        if not self._npending:
            return
        try:
            _apply(self._conn, self._pending, self._log.generation)
            self._log.clear()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot write store {self.path}: {exc}") from exc
        for rows in self._pending.values():
            rows.clear()
        self._npending = 0
        self._deleting.clear()

    def close(self) -> None:
        """Fold the log in, checkpoint the WAL into the main file and close.

        If the fold fails the log is kept (the next open folds it) and
        :class:`StoreError` is raised after closing."""
        try:
            self.flush()
        except StoreError:
            self._log.close()
            self._conn.close()
            raise
        self._log.close(remove=True)
        try:
            _set_format(self._conn, FORMAT_VERSION)  # no log left: any server reads it
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._conn.close()

    def _hold(self, changes: list[Change]) -> None:
        pending = self._pending
        for table, key, data in changes:
            rows = pending[table]
            if key not in rows:
                self._npending += 1
            rows[key] = data
            if data is None:
                self._deleting.add(table)


def _open_log(conn: sqlite3.Connection, path: Path, fsync: bool) -> RedoLog:
    """The store's redo log, with what it held (a killed server's last writes) folded in."""
    def fold(changes: list[Change], generation: int) -> None:
        pending: dict[str, dict[str, bytes | None]] = {t: {} for t in TABLES}
        for table, key, data in changes:
            pending[_table(table)][key] = data
        _apply(conn, pending, generation)

    row = conn.execute("SELECT value FROM meta WHERE key = 'log_generation'").fetchone()
    folded = int(row[0]) if row is not None else 0
    log = RedoLog(path, fold, fsync, folded=folded)  # folds, then empties the file
    if os.name == "posix":
        os.chmod(path, 0o600)
    return log


def _apply(conn: sqlite3.Connection, pending: dict[str, dict[str, bytes | None]],
           generation: int) -> None:
    """Upsert and delete ``pending``'s rows in one committed transaction, with the redo
    log's ``generation`` they end (:mod:`.redolog`) recorded as folded."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('log_generation', ?)",
                     (str(generation),))
        for table, rows in pending.items():
            upserts = [(k, d) for k, d in rows.items() if d is not None]
            if upserts:
                conn.executemany(f"INSERT OR REPLACE INTO {table} (id, data) VALUES (?, ?)",
                                 upserts)
            if len(upserts) < len(rows):
                conn.executemany(f"DELETE FROM {table} WHERE id = ?",
                                 [(k,) for k, d in rows.items() if d is None])
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise


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
    elif row[0] not in (FORMAT_VERSION, LOGGED_FORMAT):
        raise StoreError(f"has format {row[0]}; this server reads only format {FORMAT_VERSION} "
                         "(move the file aside to start with an empty store)")
    conn.execute("COMMIT")


def _set_format(conn: sqlite3.Connection, version: str) -> None:
    conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (version,))


def _table(name: str) -> str:
    if name not in TABLES:
        raise ValueError(f"no table {name}")
    return name
