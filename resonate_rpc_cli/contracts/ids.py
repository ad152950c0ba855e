"""Promise ids: which root ids a caller may choose, and how to read an id's origin.

The one rule for a caller-chosen root id (``rpcdemo run --id``, the gateway's
``{"id": ...}``): non-empty, at most :data:`MAX_ID_LEN` characters, printable,
no whitespace, and no ``:``. The ``:`` is reserved because the SDK and the
Resonate server read an id as ``<origin>:<lineage>``: the SDK mints child ids
below a root as ``root:1``, ``root:1.2`` (``resonate.ids.join_id``) and
``resonate.ids.validate_root_id`` rejects a root holding ``:`` (the server
rejects such an origin too, ``colon_in_origin``). ``.`` is allowed: it only
separates lineage segments below the origin. The CLI checks the id before
posting it so its answer matches the gateway's ``400``.

Pure functions, no SDK import (the CLI must not pay for it).
"""

from __future__ import annotations

MAX_ID_LEN = 128
#: Any promise id, children's lineage included (``root:1.2.3``), as the CLI accepts one.
MAX_PROMISE_ID_LEN = 1024
#: Separates a promise id's origin (the root id) from the lineage below it.
ORIGIN_SEP = ":"


def promise_id_problem(value: str, max_len: int = MAX_PROMISE_ID_LEN) -> str | None:
    """Why ``value`` cannot be a promise id (any id the SDK mints, children too), or None."""
    if not value:
        return "must not be empty"
    if len(value) > max_len:
        return f"must be at most {max_len} characters, got {len(value)}"
    if not value.isprintable() or any(c.isspace() for c in value):
        return "must be printable and contain no spaces"
    return None


def root_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a caller-chosen root id, or ``None`` when it can: a
    promise id (:func:`promise_id_problem`) without the origin separator."""
    if (problem := promise_id_problem(value, MAX_ID_LEN)) is not None:
        return problem
    if ORIGIN_SEP in value:
        return f"must not contain {ORIGIN_SEP!r} (Resonate reserves it for child ids)"
    return None


def origin_of(promise_id: str) -> str:
    """The root id a promise id descends from: everything before the first ``:``."""
    return promise_id.split(ORIGIN_SEP, 1)[0]
