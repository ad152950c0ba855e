"""The control channel: JSON lines over ``HOME/run/control.sock`` (mode 0600).

One request line ``{"op": ..., ...}``, one response line: ``{"ok": true,
"result": ...}`` or ``{"ok": false, "error": "...", "status": N}``. The server
side hands each request to the supervisor's loop thread through a queue, so
the supervisor's state has exactly one writer.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socketserver
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from resonate_rpc_cli.clients import jsonline
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, RpcdemoError
from resonate_rpc_cli.contracts.home import Home, not_running_message

if TYPE_CHECKING:
    from concurrent.futures import Future

#: How long a request may take, beyond the ``wait_s`` it asks the supervisor to wait.
ANSWER_TIMEOUT_S = 30.0


def _future() -> Future[dict[str, Any]]:
    """A new reply; concurrent.futures (and the logging it loads) is imported by the
    supervisor's side only, never by a CLI command that merely calls (issue 21)."""
    from concurrent.futures import Future  # noqa: PLC0415

    return Future()


@dataclass
class Request:
    """One control request waiting for the loop thread to answer it."""

    op: str
    args: dict[str, Any]
    reply: Future[dict[str, Any]] = field(default_factory=_future)


def _wait_s(args: dict[str, Any]) -> float:
    try:
        return max(0.0, float(args.get("wait_s", 0.0)))
    except (TypeError, ValueError):
        return 0.0


class _Handler(socketserver.StreamRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        line = self.rfile.readline(jsonline.MAX_LINE)
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("op"), str):
                raise ValueError("request must be an object with an 'op'")
        except ValueError as exc:
            answer: dict[str, Any] = {"ok": False, "error": f"bad request: {exc}",
                                      "status": int(ExitStatus.USAGE)}
        else:
            request = Request(obj.pop("op"), obj)
            self.server.requests.put(request)
            try:
                answer = request.reply.result(timeout=ANSWER_TIMEOUT_S + _wait_s(obj))
            except TimeoutError:
                answer = {"ok": False, "error": "the supervisor did not answer",
                          "status": int(ExitStatus.NOT_RUNNING)}
        with contextlib.suppress(OSError):
            self.wfile.write(json.dumps(answer).encode() + b"\n")


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Accepts control requests on a private Unix socket; queues them for the loop."""

    daemon_threads = True

    def __init__(self, home: Home) -> None:
        self.requests: queue.Queue[Request] = queue.Queue()
        path = home.control_socket
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        old_umask = os.umask(0o177)
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        self._thread = threading.Thread(target=self.serve_forever, name="rpcdemo-control",
                                        kwargs={"poll_interval": 0.2}, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def call(home: Home, op: str, timeout_s: float = 30.0, **args: Any) -> Any:
    """Send one request to the supervisor of ``home``; return its result.

    Raises :class:`NotRunningError` when no supervisor answers on the socket,
    and the error it reports (with its exit status) otherwise.
    """

    def unreachable(exc: OSError) -> RpcdemoError:
        if isinstance(exc, FileNotFoundError | ConnectionRefusedError | NotADirectoryError):
            return NotRunningError(not_running_message(home))
        return NotRunningError(f"{not_running_message(home)} ({exc.strerror})")

    return jsonline.request(home.control_socket, op, args, timeout_s,
                            who=f"the supervisor under {home.root}", unreachable=unreachable)
