"""``RedoLog``: the store's append-only file of row changes, one ``write()`` per commit.

A commit of the embedded server changes a few rows (a promise, its task). In
SQLite's WAL each such commit costs whole 4 KiB pages, two ``pwrite`` calls per
page and the B-tree work, ~50-80 µs of the loop's time per request on these
machines. Here a commit is one frame appended with one ``write()`` (~4 µs); the
store folds the logged rows into SQLite many commits at a time
(:meth:`.store.Store.flush`) and then empties the log.

A frame is ``length (4 bytes) | crc32 (4 bytes) | payload``, the payload the
msgpack of ``[[table, id, data or nil], ...]`` (nil: the row is deleted).
Durability is SQLite's with ``synchronous=NORMAL``: once ``write()`` returned the
frame is in the OS page cache and survives the process (``kill -9``
included); with ``fsync`` each append is followed by ``fdatasync`` (power loss,
as ``synchronous=FULL``). :meth:`read` returns the frames up to the first one
that is short or fails its checksum (a frame cut by a power loss was never
acknowledged: the response leaves only after :meth:`append` returned).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import msgspec

_HEADER = struct.Struct(">II")

#: One logged change: ``(table, id, data)``, ``data`` ``None`` for a delete.
Change = tuple[str, str, bytes | None]

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(list[tuple[str, str, bytes | None]]).decode


class RedoLog:
    """One append-only file; :meth:`clear` once its changes are in SQLite."""

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self.size = os.fstat(self._fd).st_size

    def read(self) -> list[Change]:
        """Every change logged, in order, up to the first damaged frame."""
        with open(self.path, "rb") as f:
            blob = f.read()
        changes: list[Change] = []
        at = 0
        while at + _HEADER.size <= len(blob):
            length, crc = _HEADER.unpack_from(blob, at)
            payload = blob[at + _HEADER.size:at + _HEADER.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            try:
                changes.extend(_decode(payload))
            except msgspec.DecodeError:
                break
            at += _HEADER.size + length
        return changes

    def append(self, changes: list[Change]) -> int:
        """Log ``changes`` as one frame (durable on return); the bytes written."""
        payload = _encode(changes)
        header = _HEADER.pack(len(payload), zlib.crc32(payload))
        size = len(header) + len(payload)
        written = os.writev(self._fd, (header, payload))  # one call, no joined copy
        if written < size:  # cut short (a full disk): the rest, or the OSError
            view = memoryview(header + payload)[written:]
            while view:
                view = view[os.write(self._fd, view):]
        if self.fsync:
            os.fdatasync(self._fd)
        self.size += size
        return size

    def clear(self) -> None:
        """Empty the log (every change in it is committed to SQLite)."""
        os.ftruncate(self._fd, 0)
        if self.fsync:
            os.fdatasync(self._fd)
        self.size = 0

    def close(self, remove: bool = False) -> None:
        os.close(self._fd)
        if remove:
            self.path.unlink(missing_ok=True)
