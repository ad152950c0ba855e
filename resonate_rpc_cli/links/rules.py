"""What a ``net`` request may name and ask for: targets and fault values (pure rules).

A target is a node name (``service-b-1``, ``gateway``) or a group
(``service-b``: every link of that group). Every bad value is a
:class:`~resonate_rpc_cli.contracts.errors.UsageError` with one line naming it.
"""

from __future__ import annotations

import math

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVICE_GROUPS, NodeName

#: The longest fault value accepted (a day), so a typo cannot wedge a link forever.
MAX_SECONDS = 86_400.0
MAX_DELAY_MS = 60_000.0


def group_of(name: str) -> str | None:
    """The group of node ``name`` (``service-b-1``, ``orders-2``, ``gateway``), or None."""
    try:
        return NodeName.parse(name).group
    except ValueError:
        group, sep, index = name.rpartition("-")  # a declared group's node (issue 19)
        return group if sep and group and index.isdigit() and int(index) >= 1 else None


def resolve_target(target: str, names: list[str]) -> list[str]:
    """The link names ``target`` means among ``names``, in ``names``' order.

    Raises :class:`UsageError` for an unknown target, a node without a link,
    or a group none of whose nodes has one.
    """
    have = ", ".join(names) or "none"
    if target in names:
        return [target]
    chosen = [n for n in names if group_of(n) == target]
    if chosen:
        return chosen
    if target == GATEWAY or target in SERVICE_GROUPS:
        raise UsageError(f"no link of group {target!r} is up (links: {have})")
    if group_of(target) is not None:
        raise UsageError(f"no link named {target!r} (links: {have})")
    raise UsageError(f"unknown target {target!r}: expected a node like service-b-1 or a group "
                     f"like service-b (links: {have})")


def check_seconds(label: str, value: float | None) -> float | None:
    """``value`` if None or a finite number of seconds in (0, MAX_SECONDS]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or not 0 < value <= MAX_SECONDS:
        raise UsageError(f"{label} must be a number of seconds > 0 (at most "
                         f"{MAX_SECONDS:g}), got {value!r}")
    return float(value)


def check_delay(delay_ms: float, jitter_ms: float) -> tuple[float, float]:
    """``(delay, jitter)`` in ms if 0 <= jitter <= delay <= MAX_DELAY_MS, delay > 0."""
    for label, v in (("delay", delay_ms), ("jitter", jitter_ms)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or not 0 <= v <= MAX_DELAY_MS:
            raise UsageError(f"{label} must be between 0 and {MAX_DELAY_MS:g} ms, got {v!r}")
    if delay_ms <= 0:
        raise UsageError(f"delay must be > 0 ms, got {delay_ms!r} (heal clears a delay)")
    if jitter_ms > delay_ms:
        raise UsageError(f"jitter ({jitter_ms:g} ms) must not exceed the delay "
                         f"({delay_ms:g} ms)")
    return float(delay_ms), float(jitter_ms)
