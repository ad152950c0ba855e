"""The flags of ``up`` that name groups: ``--replicas``, ``--delay``, ``--only`` (pure rules).

Each returns the parsed value or raises :class:`UsageError` naming the flag and what is
wrong. They check against the seed's groups (a declared application's are checked once
its file is read: ``TopologyConfig.group_names``).
"""

from __future__ import annotations

from resonate_rpc_cli.contracts import values as cv
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVICE_GROUPS

MAX_REPLICAS = 16
#: What ``--only`` may name: the gateway and the service groups (the server follows
#: the server kind).
PART_NAMES = (GATEWAY, *SERVICE_GROUPS)


def check_replicas(group: str, n: int, groups: tuple[str, ...] = tuple(SERVICE_GROUPS)) -> int:
    """Return ``n`` if ``group`` is one of ``groups`` (default: the seed's service groups)
    and 0 <= n <= MAX_REPLICAS, else UsageError."""
    if group not in groups:
        raise UsageError(f"unknown group {group!r}; valid groups: {', '.join(groups)}")
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_REPLICAS:
        raise UsageError(f"replicas of {group} must be a whole number from 0 to {MAX_REPLICAS}, "
                         f"got {n!r}")
    return n


def parse_replicas(text: str) -> tuple[str, int]:
    """Parse ``GROUP=N`` (e.g. ``service-b=3``); raise :class:`UsageError` otherwise."""
    group, sep, raw = text.partition("=")
    group = group.strip()
    if not sep or not group or not raw.strip():
        raise UsageError(f"bad --replicas {text!r}: expected GROUP=N, e.g. service-b=3")
    try:
        n = int(raw)
    except ValueError:
        raise UsageError(f"bad --replicas {text!r}: {raw.strip()!r} is not a whole number") \
            from None
    try:
        check_replicas(group, n)
    except UsageError as exc:
        raise UsageError(f"bad --replicas {text!r}: {exc}") from None
    if n == 0:
        raise UsageError(f"bad --replicas {text!r}: at least 1 at `up` (leave a group out "
                         "with --only; `rpcdemo scale GROUP 0` stops a running one)")
    return group, n


def parse_only(text: str) -> list[str]:
    """Parse ``gateway,service-a`` into its parts; raise :class:`UsageError` naming a bad one."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UsageError(f"--only needs at least one of {', '.join(PART_NAMES)}")
    for part in parts:
        if part not in PART_NAMES:
            raise UsageError(f"--only: unknown part {part!r}; valid: {', '.join(PART_NAMES)}")
    return list(dict.fromkeys(parts))


def parse_delay(text: str) -> tuple[str, float]:
    """Parse ``GROUP=SECONDS`` (e.g. ``service-b=3``); raise :class:`UsageError` otherwise."""
    group, sep, raw = text.partition("=")
    group = group.strip()
    if not sep or not group or not raw.strip():
        raise UsageError(f"bad --delay {text!r}: expected GROUP=SECONDS, e.g. service-b=3")
    if group not in SERVICE_GROUPS:
        valid = ", ".join(SERVICE_GROUPS)
        raise UsageError(f"bad --delay {text!r}: unknown group {group!r}; valid groups: {valid}")
    try:
        return group, cv.seconds(float(raw))
    except ValueError:
        raise UsageError(f"bad --delay {text!r}: {raw!r} is not a number of seconds") from None
    except cv.BadValue as exc:
        raise UsageError(f"bad --delay {text!r}: {exc}") from None
