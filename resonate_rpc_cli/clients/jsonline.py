"""One JSON line each way over a private Unix socket (the supervisor's and the link hub's).

The request is ``{"op": ..., **args}``; the answer ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "...", "status": N}``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, RpcdemoError

MAX_LINE = 1 << 20


def request(path: Path, op: str, args: dict[str, Any], timeout_s: float, *, who: str,
            unreachable: Callable[[OSError], RpcdemoError]) -> Any:
    """Send one request to the socket at ``path``; return the answer's ``result``.

    Raises ``unreachable(exc)`` when nothing listens there, a
    :class:`NotRunningError` naming ``who`` when the other side does not answer,
    and the error it reports (with its exit status) otherwise.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise unreachable(exc) from exc
        try:
            sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
            data = sock.makefile("rb").readline(MAX_LINE)
        except OSError as exc:
            raise NotRunningError(f"{who} did not answer: {exc}") from exc
    if not data:
        raise NotRunningError(f"{who} closed the connection")
    answer = json.loads(data)
    if not answer.get("ok"):
        raise RpcdemoError(str(answer.get("error")), ExitStatus(int(answer.get("status", 1))))
    return answer.get("result")


def answers(path: Path, timeout_s: float = 2.0) -> bool:
    """Whether a server answers ``ping`` on the socket at ``path`` within ``timeout_s``."""
    try:
        request(path, "ping", {}, timeout_s, who=str(path),
                unreachable=lambda exc: NotRunningError(str(exc)))
    except RpcdemoError:
        return False
    return True
