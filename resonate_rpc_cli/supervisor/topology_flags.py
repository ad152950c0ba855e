"""The flags of ``up`` that name groups: ``--replicas``, ``--delay``, ``--only`` (pure rules).

Each returns the parsed value or raises :class:`UsageError` naming the flag and what is
wrong. Called with their defaults they check group names against the seed's; ``up``'s
flags are parsed with ``groups=None`` (the shape only), because the topology file, read
after the flags, may declare other groups: ``validate_config`` then checks every name
against ``TopologyConfig.group_names`` (the declared groups, or the seed's).
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


def parse_replicas(text: str, groups: tuple[str, ...] | None = tuple(SERVICE_GROUPS)
                   ) -> tuple[str, int]:
    """Parse ``GROUP=N`` (e.g. ``service-b=3``) with GROUP one of ``groups`` (None: any
    name, checked later); raise :class:`UsageError` otherwise."""
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
        check_replicas(group, n, (group,) if groups is None else groups)
    except UsageError as exc:
        raise UsageError(f"bad --replicas {text!r}: {exc}") from None
    if n == 0:
        raise UsageError(f"bad --replicas {text!r}: at least 1 at `up` (leave a group out "
                         "with --only; `rpcdemo scale GROUP 0` stops a running one)")
    return group, n


def parse_only(text: str, parts: tuple[str, ...] | None = PART_NAMES) -> list[str]:
    """Parse ``gateway,service-a`` into its parts, each one of ``parts`` (None: any name,
    checked later); raise :class:`UsageError` naming a bad one."""
    named = [p.strip() for p in text.split(",") if p.strip()]
    if not named:
        raise UsageError(f"--only needs at least one of {', '.join(parts or PART_NAMES)}")
    for part in named:
        if parts is not None and part not in parts:
            raise UsageError(f"--only: unknown part {part!r}; valid: {', '.join(parts)}")
    return list(dict.fromkeys(named))


def parse_delay(text: str, groups: tuple[str, ...] | None = tuple(SERVICE_GROUPS)
                ) -> tuple[str, float]:
    """Parse ``GROUP=SECONDS`` (e.g. ``service-b=3``) with GROUP one of ``groups`` (None:
    any name, checked later); raise :class:`UsageError` otherwise."""
    group, sep, raw = text.partition("=")
    group = group.strip()
    if not sep or not group or not raw.strip():
        raise UsageError(f"bad --delay {text!r}: expected GROUP=SECONDS, e.g. service-b=3")
    if groups is not None and group not in groups:
        valid = ", ".join(groups)
        raise UsageError(f"bad --delay {text!r}: unknown group {group!r}; valid groups: {valid}")
    try:
        return group, cv.seconds(float(raw))
    except ValueError:
        raise UsageError(f"bad --delay {text!r}: {raw!r} is not a number of seconds") from None
    except cv.BadValue as exc:
        raise UsageError(f"bad --delay {text!r}: {exc}") from None
