"""``RedoLog``: the store's file of row changes, one copy into a shared mapping per commit.

In SQLite's WAL each commit of the embedded server (a few rows: a promise, its
task) costs whole 4 KiB pages, two ``pwrite`` calls per page and the B-tree work,
~50-80 µs of the loop's time per request on these machines. Here a commit is one
frame copied into the log; the store folds the logged rows into SQLite many
commits at a time (:meth:`.store.Store.flush`) and then starts the log afresh
(:meth:`RedoLog.clear`).

The file starts with :data:`MAGIC` and 8 random bytes, the file's salt (new each
time the file is made empty at open); a frame is ``length | crc32 | generation |
index`` (4 bytes each) and the payload, the msgpack of ``[[table, id, data or
nil], ...]`` (nil: the row is deleted); the crc covers the salt, generation, index
and payload, so bytes a client chose (a promise's data, left in the file by an
older generation) can never pass for a frame: it cannot know the salt.
Each fold ends a *generation*: the store writes the generation it
folded into SQLite in the fold's own transaction, and :meth:`RedoLog.clear`
starts the next one at the start of the file (index 0), writing nothing else.

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
mapping is written back (on file systems that overwrite in place, as ext4 and xfs do;
a copy-on-write one such as btrfs may still fail a write into the mapping on a full
disk, ending the process before the response: nothing acknowledged is lost).

What a restart replays is the frames of exactly the generation after the one
SQLite holds, from index 0 on, up to the first frame that is not the next one
(another generation, a gap, a short frame, a failed checksum): a frame cut by a
kill or a power loss was never acknowledged (the response leaves only after
:meth:`RedoLog.append` returned). So the frames of a generation already folded
(left in place after :meth:`clear`) are never replayed, nor a part of a
generation without its beginning, nor one whose predecessor SQLite lost (a power
loss without ``fsync`` may cost the last writes; it never mixes states).
A file from before generations (no :data:`MAGIC`: ``length | crc32`` frames) is
read as it was written, once.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import msgspec

#: The file's first bytes (a file without them is of the format before generations).
MAGIC = b"rpclog2\n"
_SALT = 8
#: Where the frames start: after :data:`MAGIC` and the salt.
_START = len(MAGIC) + _SALT
_HEADER = struct.Struct(">IIII")  # length, crc32, generation, index
_GEN_INDEX = struct.Struct(">II")
_LEGACY_HEADER = struct.Struct(">II")  # length, crc32
_PAGE = mmap.PAGESIZE
#: Generations count modulo 2**32 (one per fold: many years of folds).
_GENERATIONS = 1 << 32

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

    ``folded`` is the generation SQLite holds (0: none yet). Opening calls
    ``fold(changes, generation)`` with the changes of the generation after it, if
    the file holds any (a killed server's last commits), and ``fold`` must record
    that generation as folded in the same transaction; the file is then made
    empty. If ``fold`` raises, the file is left as it was, closed, and the error
    propagates; an :class:`OSError` (the file cannot be opened or sized: a full
    disk) too. :attr:`generation` is the one being written.
    """

    def __init__(self, path: Path, fold: Callable[[list[Change], int], None],
                 fsync: bool = False, capacity: int = CAPACITY, folded: int = 0) -> None:
        if capacity <= 0 or capacity % _PAGE:
            raise ValueError(f"capacity {capacity} is not a positive multiple of {_PAGE}")
        self.path = path
        self.fsync = fsync
        #: Bytes of the file in use: :data:`MAGIC`, the salt, this generation's frames.
        self.size = _START
        #: Bytes of the file (and of the mapping).
        self.capacity = 0
        #: The generation being written (the one after what SQLite holds).
        self.generation = (folded + 1) % _GENERATIONS
        self._index = 0
        self._base = capacity
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._map: mmap.mmap | None = None
        self._salt = b""
        try:
            with open(self._fd, "rb", closefd=False) as f:
                blob = f.read()
            held = (_frames(blob, self.generation)[0] if blob.startswith(MAGIC)
                    else _legacy_frames(blob))
            if held:
                fold(held, self.generation)
                self.generation = (self.generation + 1) % _GENERATIONS
            self._reset()
        except BaseException:
            self.close()
            raise

    def read(self) -> list[Change]:
        """Every change appended in this generation, in order."""
        return _frames(self._map, self.generation)[0] if self._map is not None else []

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
        generation, index = self.generation, self._index
        crc = _crc(self._salt, generation, index, payload)
        _HEADER.pack_into(m, at, len(payload), crc, generation, index)
        m[start:end] = payload
        if self.fsync:
            page = at - at % _PAGE
            m.flush(page, end - page)
        self.size = end
        self._index = index + 1
        return end - at

    def clear(self) -> None:
        """Start the next generation (every change of this one is committed to SQLite,
        with this generation as the one folded): its frames are written from the start
        of the file again, over the old ones, which no reader takes for the new
        generation's. Nothing is written now; once the file grew past
        :data:`SHRINK_FACTOR` times its first capacity it is cut back to it.
        :class:`OSError` if that fails (the next append retries)."""
        self.generation = (self.generation + 1) % _GENERATIONS
        self._index = 0
        self.size = _START
        if self.capacity > SHRINK_FACTOR * self._base:
            self._reset()

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
        """Make the file :data:`MAGIC`, a new salt and zeros at the first capacity,
        mapped, the log empty."""
        if self._map is not None:
            self._map.close()
            self._map = None
        self.capacity = 0
        self.size = _START
        self._index = 0
        self._salt = os.urandom(_SALT)
        os.ftruncate(self._fd, 0)
        m = self._grow(self._base)
        if self.fsync:
            m.flush(0, _PAGE)

    def _grow(self, need: int) -> mmap.mmap:
        """Allocate the file to hold ``need`` bytes (doubling) and map it again, its
        :data:`MAGIC` and salt in place (a file a failed :meth:`_reset` left cut to nothing
        must not take frames no open would read)."""
        capacity = max(self.capacity, self._base)
        while capacity < need:
            capacity *= 2
        _allocate(self._fd, capacity)
        mapped = mmap.mmap(self._fd, capacity, flags=mmap.MAP_SHARED,
                           prot=mmap.PROT_READ | mmap.PROT_WRITE)
        mapped[:_START] = MAGIC + self._salt
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


def read_log(path: Path, generation: int | None = None) -> list[Change]:
    """The changes of one generation the log file at ``path`` holds (default: the one
    its first frame starts), read without changing it."""
    with open(path, "rb") as f:
        blob = f.read()
    if not blob.startswith(MAGIC):
        return _legacy_frames(blob)
    if generation is None:
        if len(blob) < _START + _HEADER.size:
            return []
        generation = _HEADER.unpack_from(blob, _START)[2]
    return _frames(blob, generation)[0]


def _frames(blob: bytes | mmap.mmap, generation: int) -> tuple[list[Change], int]:
    """The changes of ``generation``'s frames at the start of ``blob`` (after
    :data:`MAGIC` and the salt), index 0 on, up to the first that is not the next; where
    they end."""
    return _scan(blob, _START, _HEADER, generation, bytes(blob[len(MAGIC):_START]))


def _legacy_frames(blob: bytes) -> list[Change]:
    """The changes of a log written before generations (``length | crc32`` frames from
    the file's start, up to the first that is short or fails its checksum)."""
    return _scan(blob, 0, _LEGACY_HEADER, None, b"")[0]


def _scan(blob: bytes | mmap.mmap, at: int, header: struct.Struct,
          generation: int | None, salt: bytes) -> tuple[list[Change], int]:
    """The changes of the frames from ``at`` (``header`` then the payload; with a
    ``generation``, each frame that generation's next, its crc seeded with ``salt``),
    up to the first frame that is empty, short, not the next, fails its checksum or
    does not decode; where they end."""
    changes: list[Change] = []
    index = 0
    while at + header.size <= len(blob):
        length, crc, *place = header.unpack_from(blob, at)
        start = at + header.size
        if length == 0 or start + length > len(blob):
            break
        if generation is not None and place != [generation, index]:
            break
        payload = blob[start:start + length]
        if (zlib.crc32(payload) if generation is None
                else _crc(salt, generation, index, payload)) != crc:
            break
        try:
            changes.extend(_decode(payload))
        except msgspec.DecodeError:
            break
        at = start + length
        index += 1
    return changes, at


def _crc(salt: bytes, generation: int, index: int, payload: bytes) -> int:
    """A frame's checksum: over the file's salt, the frame's generation and index, and its
    payload (the one rule :meth:`RedoLog.append` writes and :func:`_scan` checks)."""
    return zlib.crc32(payload, zlib.crc32(salt + _GEN_INDEX.pack(generation, index)))
