"""Colours and small formatters shared by the renderers."""

from __future__ import annotations

import time

PROMISE_STYLE = {
    "pending": "yellow",
    "resolved": "green",
    "rejected": "red",
    "rejected_canceled": "red",
    "rejected_timedout": "red",
}

NODE_STYLE = {
    "pending": "dim",
    "starting": "cyan",
    "ready": "green",
    "paused": "magenta",
    "killed": "red",
    "backoff": "yellow",
    "failed": "bold red",
    "stopping": "dim",
    "stopped": "dim",
}


def promise_style(state: str) -> str:
    return PROMISE_STYLE.get(state, "white")


def node_style(state: str) -> str:
    return NODE_STYLE.get(state, "white")


def seconds(value: float | None) -> str:
    """``12.3s``, ``4m05s``, ``1h02m``; ``-`` for None."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    if value < 3600:
        return f"{int(value // 60)}m{int(value % 60):02d}s"
    return f"{int(value // 3600)}h{int(value % 3600 // 60):02d}m"


def age_ms(created_ms: int | None, now_s: float | None = None) -> str:
    """How long ago ``created_ms`` (epoch milliseconds) was."""
    if created_ms is None:
        return "-"
    now = time.time() if now_s is None else now_s
    return seconds(max(0.0, now - created_ms / 1000))


def short_id(node_id: str | None) -> str:
    if not node_id:
        return "-"
    return node_id if len(node_id) <= 8 else node_id[:8]
