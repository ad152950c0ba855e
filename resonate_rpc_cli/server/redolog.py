"""``RedoLog``: the store's file of row changes, one copy into a shared mapping per commit.

In SQLite's WAL each commit of the embedded server (a few rows: a promise, its
task) costs whole 4 KiB pages, two ``pwrite`` calls per page and the B-tree work,
~50-80 µs of the loop's time per request on these machines. Here a commit is one
frame copied into the log; the store folds the logged rows into SQLite many
commits at a time (:meth:`.store.Store.flush`) and then empties the log
(:meth:`RedoLog.clear`).

A frame is ``length (4 bytes) | crc32 (4 bytes) | payload``, the payload the
msgpack of ``[[table, id, data or nil], ...]`` (nil: the row is deleted).

The file is preallocated (``posix_fallocate``) to a capacity (:data:`CAPACITY`,
doubled when a frame would not fit) and mapped ``MAP_SHARED``: an append packs
the header into the mapping and copies the payload after it, no system call.
The mapping *is* the file's page cache, so once :meth:`RedoLog.append` returned
the frame is there, read by any reader of the file and surviving the process
(``kill -9`` included) exactly as after a ``write()``: durability is SQLite's
with ``synchronous=NORMAL``. With ``fsync`` each append is followed by ``msync``
of the pages it wrote (as ``fdatasync`` did: power loss, ``synchronous=FULL``).
Preallocating makes a full disk an :class:`OSError` when the file is sized (at
open, or when a frame does not fit), never a ``SIGBUS`` when a dirty page of the
mapping is written back.

The log ends at the first frame whose length is 0 (crc32 of nothing is 0, so a
zero header would otherwise pass), that is short, or that fails its checksum: a
frame cut by a kill or a power loss was never acknowledged (the response leaves
only after :meth:`RedoLog.append` returned). Everything past the end is zero:
opening a log folds what it holds and then makes the file all zeros again, and
:meth:`RedoLog.clear` zeroes what was written (the first header first, so a kill
in the middle leaves an empty log, never a prefix of frames already folded) --
the remnants of an older or a torn frame are never read as the continuation of
new ones.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import msgspec

_HEADER = struct.Struct(">II")
_ZERO_HEADER = bytes(_HEADER.size)
_PAGE = mmap.PAGESIZE

#: The file's size when empty (a fold every 128 rows needs ~50-100 KiB); a
#: multiple of the page size.
CAPACITY = 1 << 20
#: :meth:`RedoLog.clear` gives the file back its first capacity once it has grown
#: past this many times that (a burst of large rows does not keep the disk).
SHRINK_FACTOR = 4

#: One logged change: ``(table, id, data)``, ``data`` ``None`` for a delete.
Change = tuple[str, str, bytes | None]

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(list[tuple[str, str, bytes | None]]).decode


class RedoLog:
    """One preallocated, mapped file; :meth:`clear` once its changes are in SQLite.

    Opening calls ``fold`` with every change the file holds (a killed server's
    last commits; not called when there are none), then empties the file. If
    ``fold`` raises, the file is left as it was, closed, and the error propagates;
    an :class:`OSError` (the file cannot be opened or sized: a full disk) too.
    """

    def __init__(self, path: Path, fold: Callable[[list[Change]], None],
                 fsync: bool = False, capacity: int = CAPACITY) -> None:
        if capacity <= 0 or capacity % _PAGE:
            raise ValueError(f"capacity {capacity} is not a positive multiple of {_PAGE}")
        self.path = path
        self.fsync = fsync
        #: Bytes of the frames in the log (0 after :meth:`clear`).
        self.size = 0
        #: Bytes of the file (and of the mapping).
        self.capacity = 0
        self._base = capacity
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._map: mmap.mmap | None = None
        try:
            with open(self._fd, "rb", closefd=False) as f:
                held, _ = _frames(f.read())
            if held:
                fold(held)
            self._reset()
        except BaseException:
            self.close()
            raise

    def read(self) -> list[Change]:
        """Every change appended since the log was opened or last cleared, in order."""
        return _frames(self._map)[0] if self._map is not None else []

    def append(self, changes: list[Change]) -> int:
        """Log ``changes`` as one frame (durable on return); the bytes written.

        :class:`OSError` if the file had to grow and could not (nothing is logged)."""
        payload = _encode(changes)
        at = self.size
        start = at + _HEADER.size
        end = start + len(payload)
        m = self._map
        if m is None or end > self.capacity:
            m = self._grow(end)
        _HEADER.pack_into(m, at, len(payload), zlib.crc32(payload))
        m[start:end] = payload
        if self.fsync:
            page = at - at % _PAGE
            m.flush(page, end - page)
        self.size = end
        return end - at

    def clear(self) -> None:
        """Empty the log (every change in it is committed to SQLite).

        The written bytes are zeroed in place (the pages stay mapped), or, once
        the file grew past :data:`SHRINK_FACTOR` times its first capacity, the file
        is cut back to it. :class:`OSError` if that fails (the next append retries)."""
        if self.capacity > SHRINK_FACTOR * self._base:
            self._reset()
            return
        m, used = self._map, self.size
        if m is None or not used:
            return
        m[:_HEADER.size] = _ZERO_HEADER  # the log is empty from here on, whatever follows
        if self.fsync:
            m.flush(0, _PAGE)
        m[_HEADER.size:used] = bytes(used - _HEADER.size)
        self.size = 0
        if self.fsync:
            m.flush(0, used)

    def close(self, remove: bool = False) -> None:
        """Unmap and close the file; ``remove`` it too (its changes are in SQLite)."""
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if remove:
            self.path.unlink(missing_ok=True)

    def _reset(self) -> None:
        """Make the file all zeros at the first capacity, mapped, the log empty."""
        if self._map is not None:
            self._map.close()
            self._map = None
        self.size = self.capacity = 0
        os.ftruncate(self._fd, 0)
        self._grow(self._base)
        if self.fsync:
            os.fdatasync(self._fd)

    def _grow(self, need: int) -> mmap.mmap:
        """Allocate the file to hold ``need`` bytes (doubling) and map it again."""
        capacity = max(self.capacity, self._base)
        while capacity < need:
            capacity *= 2
        _allocate(self._fd, capacity)
        mapped = mmap.mmap(self._fd, capacity, flags=mmap.MAP_SHARED,
                           prot=mmap.PROT_READ | mmap.PROT_WRITE)
        if self._map is not None:
            self._map.close()
        self._map, self.capacity = mapped, capacity
        return mapped


def _allocate(fd: int, size: int) -> None:
    """Give the file ``size`` bytes of disk now: a full disk fails here, not as a SIGBUS later.

    Where there is no ``posix_fallocate`` (macOS) the new bytes are written as zeros."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
        return
    at = os.fstat(fd).st_size
    zeros = bytes(min(max(size - at, 0), CAPACITY))
    while at < size:
        at += os.pwrite(fd, zeros[:size - at], at)


def read_log(path: Path) -> list[Change]:
    """Every change the log file at ``path`` holds, read without changing it."""
    with open(path, "rb") as f:
        return _frames(f.read())[0]


def _frames(blob: bytes | mmap.mmap) -> tuple[list[Change], int]:
    """The changes of the frames at the start of ``blob``, and where they end."""
    changes: list[Change] = []
    at = 0
    while at + _HEADER.size <= len(blob):
        length, crc = _HEADER.unpack_from(blob, at)
        start = at + _HEADER.size
        if length == 0 or start + length > len(blob):
            break
        payload = blob[start:start + length]
        if zlib.crc32(payload) != crc:
            break
        try:
            changes.extend(_decode(payload))
        except msgspec.DecodeError:
            break
        at = start + length
    return changes, at
