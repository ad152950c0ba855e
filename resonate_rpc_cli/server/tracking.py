"""``TrackedDict``: a dict that remembers which records an operation touched.

The SDK's ServerState reaches every promise, task and schedule it changes
through ``dict.get``/``[]`` on its three dicts (or inserts it with ``[]=``).
A TrackedDict records each key on its first touch, with the record's state at
that moment, so that after one request the engine knows exactly which records
may have changed (to persist just those) and how states moved (to keep counts
without walking everything). Reads that must not count use ``dict.get(d, k)``.

While a server is still loading its store (:mod:`.loader`), a key that is not
here may be in the store: ``on_miss(key)`` is called first on every touch or
``in`` of a missing key, and may put the stored record in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The "state" recorded for a key that did not exist when first touched.
ABSENT = None


def state_of(value: Any) -> str | None:
    """A record's ``state`` attribute, ``"present"`` for records without one."""
    if value is None:
        return ABSENT
    state = getattr(value, "state", "present")
    return state if isinstance(state, str) else "present"


def peek[V](records: dict[str, V], key: str) -> V | None:
    """``records[key]`` or ``None``, read without counting as a touch; a record not read
    from the store yet is read (that first read is a touch, as it always was)."""
    value = dict.get(records, key)
    if value is None and getattr(records, "on_miss", None) is not None:
        value = records.get(key)
    return value


class TrackedDict[V](dict[str, V]):
    """``dict[str, V]`` that records ``key → state before`` on each key's first touch.

    ``on_new(key, value)`` is called after a key that did not exist is set;
    ``on_touch(value)`` on each existing record's first touch (before anyone
    can change it).
    """

    def __init__(self, on_new: Callable[[str, V], None] | None = None,
                 on_touch: Callable[[V], None] | None = None) -> None:
        super().__init__()
        self.touched: dict[str, str | None] = {}
        self.on_new = on_new
        self.on_touch = on_touch
        #: Called with a missing key before it is touched or tested (``None``: all here).
        self.on_miss: Callable[[str], None] | None = None

    def touch(self, key: str) -> None:
        """Record ``key`` as touched (its current state is its state before)."""
        if key not in self.touched:
            self._first_touch(key)

    def _first_touch(self, key: str) -> None:
        value = dict.get(self, key)
        if value is None and self.on_miss is not None:
            self.on_miss(key)
            value = dict.get(self, key)
        self.touched[key] = state_of(value)
        if value is not None and self.on_touch is not None:
            self.on_touch(value)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if self.on_miss is None or not isinstance(key, str):
            return False
        self.on_miss(key)
        return dict.__contains__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        if isinstance(key, str) and key not in self.touched:
            self._first_touch(key)
        return dict.get(self, key, default)

    def __getitem__(self, key: str) -> V:
        if key not in self.touched:
            self._first_touch(key)
        return dict.__getitem__(self, key)

    def __setitem__(self, key: str, value: V) -> None:
        if key not in self.touched:
            self._first_touch(key)
        new = not dict.__contains__(self, key)
        dict.__setitem__(self, key, value)
        if new and self.on_new is not None:
            self.on_new(key, value)

    def __delitem__(self, key: str) -> None:
        self.touch(key)
        dict.__delitem__(self, key)

    def pop(self, key: Any, *default: Any) -> Any:
        if isinstance(key, str):
            self.touch(key)
        return dict.pop(self, key, *default)

    def take_touched(self) -> dict[str, str | None]:
        """The touches so far (key → state before), and start afresh."""
        touched, self.touched = self.touched, {}
        return touched
