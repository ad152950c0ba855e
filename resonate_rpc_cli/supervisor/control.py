"""The control channel's server: JSON lines over ``HOME/run/control.sock`` (mode 0600).

One request line ``{"op": ..., ...}``, one response line (the envelope and
the client are ``clients/jsonline.py``'s). Supervisor operations go to the
supervisor's loop thread through a queue, so its state has exactly one writer;
``links.*`` operations go to the link switchboard's own loop (``links/switchboard.py``), or
are refused when the topology runs without links.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socketserver
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict, cast

from resonate_rpc_cli.clients import jsonline
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.status import LinkStatusJson
from resonate_rpc_cli.links.switchboard import Switchboard

if TYPE_CHECKING:
    from concurrent.futures import Future

#: How long a request may take, beyond the ``wait_s`` it asks the supervisor to wait.
ANSWER_TIMEOUT_S = 30.0
#: How long ``status`` waits for the links' own statuses before it answers without them
#: (what the CLI waited when it asked the links itself).
LINKS_IN_STATUS_S = 2.0


def _future() -> Future[jsonline.Reply]:
    """A new reply; concurrent.futures (and the logging it loads) is imported by the
    supervisor's side only, never by a CLI command that merely calls (issue 21)."""
    from concurrent.futures import Future  # noqa: PLC0415

    return Future()


class RequestArgs(TypedDict, total=False):
    """A control request's arguments: its JSON object without ``op``, as it came (not
    checked here: each op converts what it reads, and a malformed one is refused)."""

    #: ``status``: events after this sequence number
    since: int
    #: ``kill``/``respawn``/``heal``: a node, a group or ``all``; ``heal``: null for all
    target: str | None
    signal: str
    count: int
    respawn: bool
    respawn_after: float
    #: ``scale``
    group: str
    #: ``fault.hold``
    kind: str
    node: str
    for_s: float
    holder: str
    holder_pid: int | None
    #: ``fault.release``
    id: int
    #: ``heal``: the fault kinds to heal (null: every kind)
    kinds: list[str] | None
    #: hold the answer until the op's effect is seen, at most this long
    wait_s: float


@dataclass
class Request:
    """One control request waiting for the loop thread to answer it."""

    op: str
    #: the request's JSON object as it came (without ``op``); the op parses it
    args: RequestArgs
    reply: Future[jsonline.Reply] = field(default_factory=_future)


def _wait_s(args: RequestArgs) -> float:
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
            answer = jsonline.refusal(UsageError(f"bad request: {exc}"))
        else:
            answer = self.server.answer(obj.pop("op"), obj)
        with contextlib.suppress(OSError):
            self.wfile.write(json.dumps(answer).encode() + b"\n")


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Accepts control requests on a private Unix socket; queues them for the loop."""

    daemon_threads = True

    def __init__(self, home: Home, links: Switchboard | None = None) -> None:
        self.home = home
        #: the link switchboard ``links.*`` operations go to (None: the topology runs without links)
        self.links = links
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

    def answer(self, op: str, args: dict[str, object]) -> jsonline.Reply:
        """The answer envelope to one request (on a handler thread)."""
        if op.startswith(jsonline.LINKS_PREFIX):
            if self.links is None:
                return jsonline.refusal(UsageError(
                    f"the topology under {self.home.root} runs without links; "
                    "it was started with --no-links (or links = false)"))
            return self.links.request(op.removeprefix(jsonline.LINKS_PREFIX), args)
        request = Request(op, cast(RequestArgs, args))  # read by each op, which converts
        self.requests.put(request)
        try:
            reply = request.reply.result(timeout=ANSWER_TIMEOUT_S + _wait_s(request.args))
        except TimeoutError:
            return jsonline.refusal(NotRunningError("the supervisor did not answer"))
        if op == "status" and args.get("links") and reply.get("ok"):
            return jsonline.ok({**reply["result"], "links": self._link_statuses()})
        return reply

    def _link_statuses(self) -> list[LinkStatusJson] | None:
        """``status`` with ``links``: every link's status in the same answer, so ``status``,
        ``doctor`` and ``watch`` read the topology in one round trip (issue 21); None when
        the topology runs without links or they do not answer (``links.status`` would
        have been refused)."""
        if self.links is None:
            return None
        answer = self.links.request("status", {}, timeout_s=LINKS_IN_STATUS_S)
        return cast("list[LinkStatusJson]", answer["result"]) if answer["ok"] else None

    def close(self) -> None:
        self.shutdown()
        self.server_close()
