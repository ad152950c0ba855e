"""The rule for each kind of setting value, written once.

Each check returns the value (normalised) or raises :class:`BadValue` whose
message is the rule (``"must be a port number between 1 and 65535"``). The
settings table (``contracts/settings.py``) names a check per setting; the
topology file, validation and the command lines frame that message with their
own label: a file key (``server.port``) or a flag (``--server-port``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from resonate_rpc_cli.contracts.connectors import URL_RULE, connector_of
from resonate_rpc_cli.contracts.durations import parse_duration
from resonate_rpc_cli.contracts.errors import UsageError

Check = Callable[[Any], Any]


class BadValue(Exception):
    """A setting breaks its rule; the message says the rule."""


class NotAValue(BadValue):
    """The text is no value of the kind at all (e.g. ``"soon"`` for a duration)."""


def port(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        raise BadValue("must be a port number between 1 and 65535")
    return v


def seconds(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise BadValue("must be a number of seconds >= 0")
    return float(v)


def positive_seconds(v: Any) -> float:
    if seconds(v) <= 0:
        raise BadValue("must be a number of seconds > 0")
    return float(v)


def positive(v: Any) -> float:
    """A number > 0 (a whole one stays whole)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise BadValue("must be > 0")
    return v


def flag(v: Any) -> bool:
    if not isinstance(v, bool):
        raise BadValue("must be true or false")
    return v


def whole(low: int, high: int | None = None) -> Check:
    """A whole number from ``low`` (to ``high``, when given)."""

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise BadValue(f"must be a whole number >= {low}")
        if high is not None and v > high:
            raise BadValue(f"must be at most {high}")
        return v

    return check


def choice(options: tuple[str, ...]) -> Check:
    def check(v: Any) -> str:
        if v not in options:
            raise BadValue(f"must be one of {', '.join(options)}")
        return str(v)

    return check


def url(v: Any) -> str:
    if not isinstance(v, str) or connector_of(v) is None:
        raise BadValue(URL_RULE)
    return v


def duration(v: Any) -> float:
    """``"90s"``, ``"30m"``, ``"1h"`` or a number of seconds; longer than 0."""
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise BadValue('must be a duration like "90s", "30m", "1h" or a number of seconds')
    try:
        seconds = parse_duration(v)
    except ValueError as exc:
        raise NotAValue(str(exc)) from None
    if seconds <= 0:
        raise BadValue("must be longer than 0")
    return seconds


def path(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise BadValue("must be a file path")
    return v


def host(v: Any) -> str:
    if not isinstance(v, str) or not v or any(c in v for c in "/: "):
        raise BadValue("must be an address like 127.0.0.1 (no scheme, no port)")
    return v


def checked(label: str, check: Check, value: Any) -> Any:
    """``check(value)``, or a :class:`UsageError` ``"<label> <rule>, got <value>"``."""
    try:
        return check(value)
    except BadValue as exc:
        raise UsageError(f"{label} {exc}, got {value!r}") from None


def from_flag(label: str, check: Check, text: Any) -> Any:
    """:func:`checked` for a flag's text: text that is no value at all reads
    ``"<label>: <why>"`` (``--retain: not a duration: 'soon' ...``)."""
    try:
        return check(text)
    except NotAValue as exc:
        raise UsageError(f"{label}: {exc}") from None
    except BadValue as exc:
        raise UsageError(f"{label} {exc}, got {text!r}") from None
