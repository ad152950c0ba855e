"""``Interner``: one object for the values many promises hold equal copies of (memory).

A million promises of the same few flows repeat the same tag values (their call
tree's id, ``resonate:scope``, targets), the same timeout and the same small
params and results. Sharing one object for each saves most of a settled
promise's memory; nothing the state machine reads changes.
"""

from __future__ import annotations

from typing import Any

from resonate.connections.local import DurablePromise

from resonate_rpc_cli.contracts import tags as tag

#: Tags whose value is another promise's id.
ID_TAGS = frozenset({tag.ORIGIN, tag.BRANCH, tag.PARENT})
COMMON_MAX = 4096


class Interner:
    """A bounded cache of shared values (at most :data:`COMMON_MAX`)."""

    def __init__(self) -> None:
        #: Tag values many promises share (``resonate:scope``, targets), timeouts, values.
        self._common: dict[Any, Any] = {}
        self._last_id = ""

    def compact(self, p: DurablePromise, promises: dict[str, DurablePromise]) -> None:
        """Share what many promises hold equal copies of (memory; nothing changes).

        Tag values naming this or another promise of ``promises`` become that
        id's string; other short tag values (scopes, targets) come from a small
        cache.
        """
        tags = p.tags
        pid = p.id
        common = self._common
        last = self._last_id
        for key, value in tags.items():
            if value == pid:
                tags[key] = self._last_id = pid
            elif value == last:
                tags[key] = last
            elif key in ID_TAGS and (other := dict.get(promises, value)) is not None:
                tags[key] = self._last_id = other.id
            elif (shared := common.get(value)) is not None:
                tags[key] = shared
            elif len(common) < COMMON_MAX and len(value) <= 64:
                common[value] = value
        p.param = self._shared_value(p.param)
        p.value = self._shared_value(p.value)
        if (timeout := common.get(p.timeout_at)) is not None:
            p.timeout_at = timeout
        elif len(common) < COMMON_MAX:
            common[p.timeout_at] = p.timeout_at

    def _shared_value(self, v: Any) -> Any:
        """One object for each small SDK value ``{"headers": {}, "data": short or null}``.

        Local children all carry the same empty param, and many results are the
        same few bytes; neither the server nor the SDK's state machine ever
        changes a param or value in place.
        """
        if type(v) is not dict or len(v) > 2 or v.get("headers", 0) != {}:
            return v
        data = v.get("data")
        if not (data is None or (type(data) is str and len(data) <= 64)) or (
                len(v) == 2 and "data" not in v):
            return v
        key = ("value", data)
        shared = self._common.get(key)
        if shared is not None:
            return shared
        if len(self._common) < COMMON_MAX:
            self._common[key] = v
        return v
