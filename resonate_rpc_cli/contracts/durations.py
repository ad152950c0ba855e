"""Durations as people write them: ``90``, ``90s``, ``30m``, ``1h``, ``2d``, ``1h30m``.

One parser for ``--retain``, ``retain = "1h"`` in ``rpcdemo.toml`` and
``rpcdemo gc --older-than``. A bare number is seconds.
"""

from __future__ import annotations

import math
import re

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(value: str | float) -> float:
    """Seconds in ``value``; ``ValueError`` (a one-line message) if it is not a duration >= 0."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(
                    f"not a duration: {value!r} (e.g. 90, 90s, 30m, 1h, 2d, 1h30m)") from None
            seconds = sum(float(n) * UNITS[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration >= 0: {value!r}")
    return seconds
