"""``SortedIds``: a sorted set of strings with O(log n + chunk) insert and remove.

A plain sorted list costs a memmove of the whole list per insert (milliseconds
at a million ids, on the request path). This keeps the ids in sorted chunks of
at most ``CHUNK`` and a list of each chunk's first id, the layout of
``sortedcontainers.SortedList`` in fifty lines.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

CHUNK = 1000


class SortedIds:
    """Sorted, duplicate-free ids; iterate from any id with :meth:`after`."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        every = sorted(set(ids))
        self._chunks: list[list[str]] = [every[i:i + CHUNK] for i in range(0, len(every), CHUNK)]
        self._firsts: list[str] = [c[0] for c in self._chunks]
        self._len = len(every)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            yield from chunk

    def add(self, key: str) -> None:
        if not self._chunks:
            self._chunks.append([key])
            self._firsts.append(key)
            self._len = 1
            return
        i = max(bisect.bisect_right(self._firsts, key) - 1, 0)
        chunk = self._chunks[i]
        j = bisect.bisect_left(chunk, key)
        if j < len(chunk) and chunk[j] == key:
            return
        chunk.insert(j, key)
        self._firsts[i] = chunk[0]
        self._len += 1
        if len(chunk) > 2 * CHUNK:
            self._chunks[i:i + 1] = [chunk[:CHUNK], chunk[CHUNK:]]
            self._firsts[i:i + 1] = [chunk[0], chunk[CHUNK]]

    def remove(self, key: str) -> None:
        """Remove ``key`` if present."""
        i = bisect.bisect_right(self._firsts, key) - 1
        if i < 0:
            return
        chunk = self._chunks[i]
        j = bisect.bisect_left(chunk, key)
        if j == len(chunk) or chunk[j] != key:
            return
        del chunk[j]
        self._len -= 1
        if chunk:
            self._firsts[i] = chunk[0]
        else:
            del self._chunks[i]
            del self._firsts[i]

    def after(self, cursor: str | None) -> Iterator[str]:
        """The ids greater than ``cursor`` (all of them for ``None``), in order."""
        if cursor is None:
            yield from self
            return
        i = max(bisect.bisect_right(self._firsts, cursor) - 1, 0)
        for n, chunk in enumerate(self._chunks[i:]):
            start = bisect.bisect_right(chunk, cursor) if n == 0 else 0
            yield from chunk[start:]
