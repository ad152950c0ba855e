"""``Timers``: when each id is due, in one-second buckets, with O(1) set and remove.

The SDK's ServerState keeps timeouts in lists that every tick scans whole;
with a million promises that is a stall every 100 ms. Here an id's timeout
lives in the bucket of its second, and a heap holds the bucket seconds, so a
tick looks only at buckets that are due, and setting, moving or removing a
timeout touches one bucket. Nothing stale accumulates per id (a removed id
leaves its bucket at once); the heap may keep the second of an emptied bucket
until that second comes, at most one entry per distinct second.
"""

from __future__ import annotations

import heapq

BUCKET_MS = 1000


class Timers:
    """A set of ``id → due time (ms)``; :meth:`due` hands out the ids whose time has come."""

    def __init__(self) -> None:
        self._at: dict[str, int] = {}
        self._buckets: dict[int, set[str]] = {}
        self._seconds: list[int] = []

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, key: str) -> bool:
        return key in self._at

    def set(self, key: str, at: int) -> None:
        """Schedule ``key`` at ``at`` (replacing any earlier time it had)."""
        old = self._at.get(key)
        second = at // BUCKET_MS
        if old is not None:
            if old // BUCKET_MS == second:  # the same bucket: only the time moves
                self._at[key] = at
                return
            self._unbucket(key, old)
        self._at[key] = at
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = set()
            heapq.heappush(self._seconds, second)
        bucket.add(key)

    def remove(self, key: str) -> None:
        """Forget ``key`` (no-op if it has no time)."""
        old = self._at.pop(key, None)
        if old is not None:
            self._unbucket(key, old)

    def any_due(self, now: int) -> bool:
        """Whether some id is due at ``now`` (cheap: looks at the earliest bucket only)."""
        self._drop_empty_heads()
        if not self._seconds or self._seconds[0] > now // BUCKET_MS:
            return False
        bucket = self._buckets[self._seconds[0]]
        return self._seconds[0] < now // BUCKET_MS or any(self._at[k] <= now for k in bucket)

    def due(self, now: int, limit: int) -> list[str]:
        """Up to ``limit`` ids due at ``now``, earliest bucket first; they are removed."""
        out: list[str] = []
        current = now // BUCKET_MS
        self._drop_empty_heads()
        while self._seconds and self._seconds[0] <= current and len(out) < limit:
            second = self._seconds[0]
            bucket = self._buckets.get(second)
            if bucket is None:
                heapq.heappop(self._seconds)
                continue
            ready = [k for k in bucket if self._at[k] <= now]
            for key in ready[: limit - len(out)]:
                self.remove(key)
                out.append(key)
            if second == current or second in self._buckets:
                break  # the current second (rest not due yet) or the limit was reached
            self._drop_empty_heads()
        return out

    def _unbucket(self, key: str, at: int) -> None:
        second = at // BUCKET_MS
        bucket = self._buckets.get(second)
        if bucket is not None:
            bucket.discard(key)
            if not bucket:
                del self._buckets[second]

    def _drop_empty_heads(self) -> None:
        while self._seconds and self._seconds[0] not in self._buckets:
            heapq.heappop(self._seconds)
