"""One JSON line each way over the supervisor daemon's control socket, ``HOME/run/control.sock``.

The request is ``{"op": ..., **args}``; the answer ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "...", "status": N}`` (:func:`ok` and :func:`refusal` build
them). One socket carries the supervisor's operations and, under ``links.``, the
link switchboard's (``links.status``, ``links.partition``, ...): :func:`call` is the one client.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, RpcdemoError
from resonate_rpc_cli.contracts.home import Home, not_running_message

MAX_LINE = 1 << 20
#: Ops that go to the link switchboard rather than the supervisor's loop.
LINKS_PREFIX = "links."


class Reply(TypedDict):
    """The answer envelope, one JSON line: ``result`` when ``ok``, else ``error`` and
    ``status`` (the exit status the caller leaves with)."""

    ok: bool
    result: NotRequired[Any]
    error: NotRequired[str]
    status: NotRequired[int]


def ok(result: Any) -> Reply:
    """The answer envelope of a request that succeeded."""
    return {"ok": True, "result": result}


def refusal(exc: RpcdemoError) -> Reply:
    """The answer envelope of a refused request: its message and exit status."""
    return {"ok": False, "error": str(exc), "status": int(exc.status)}


def call(home: Home, op: str, timeout_s: float = 30.0, **args: Any) -> Any:
    """Send one request to the supervisor daemon of ``home``; return its result.

    Raises :class:`NotRunningError` when no supervisor answers on the socket,
    and the error it reports (with its exit status) otherwise.
    """

    def unreachable(exc: OSError) -> RpcdemoError:
        if isinstance(exc, FileNotFoundError | ConnectionRefusedError | NotADirectoryError):
            return NotRunningError(not_running_message(home))
        return NotRunningError(f"{not_running_message(home)} ({exc.strerror})")

    return request(home.control_socket, op, args, timeout_s,
                   who=f"the supervisor under {home.root}", unreachable=unreachable)


def request(path: Path, op: str, args: dict[str, object], timeout_s: float, *, who: str,
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

