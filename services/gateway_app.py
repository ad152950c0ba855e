"""The gateway's HTTP face: Flask routes, request validation, JSON answers.

Routes (every answer is JSON, never an HTML page or a traceback):

* ``POST /await-chain``, ``POST /fan-out-workflow``: start (or reconnect to)
  the flow and wait for it: ``200 {"id", "message": <value>}``.
* ``POST /detached-chain``: start it and answer at once:
  ``200 {"id", "message": "detached-chain started"}``.
* ``GET /health``: ``200`` once the gateway's own listener is connected to the
  server, ``503`` before (flows started earlier could lose their wake-up).

The optional JSON body ``{"id": str, "arg": int, "timeout": seconds}`` picks
the promise id (default: the seed's static id, so a re-sent request reconnects
to the same promise and a finished one answers its stored result), the
argument (default ``flows.DEFAULT_ARG``) and how long an await route waits
(default 300 s). Errors: ``400`` bad body or id (the rule is
``contracts.ids.root_id_problem``), ``404`` unknown route, ``405`` wrong method,
``503`` server unreachable (naming its URL) or listener not connected yet,
``409`` the id already names another flow's call, ``504`` the wait timed
out (the flow keeps running; re-send the same id),
``500`` the flow was rejected or something unexpected failed.
"""

from __future__ import annotations

import json
import math
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify
from flask import request as flask_request
from werkzeug.exceptions import HTTPException

from resonate_rpc_cli.contracts.connectors import POSTGRES, connector_of
from resonate_rpc_cli.contracts.flows import DEFAULT_ARG, FLOWS, Flow
from resonate_rpc_cli.contracts.ids import root_id_problem

DEFAULT_WAIT_S = 300.0
MAX_WAIT_S = 86_400.0
DETACHED_MESSAGE = "detached-chain started"
BODY_FIELDS = ("id", "arg", "timeout")


class BadRequest(ValueError):
    """The request body cannot be used; the message is the client's one-line answer."""


class FlowTimeout(Exception):
    """The flow did not finish within the request's timeout (it keeps running)."""


class FlowConflict(Exception):
    """The id already names a call of another function (another flow's id)."""


class FlowFailed(Exception):
    """The flow's promise was rejected, or the SDK failed to hand it off."""


@dataclass(frozen=True)
class FlowRequest:
    promise_id: str
    arg: int
    timeout_s: float


def validate_id(value: object) -> str:
    """Return ``value`` if it is a usable promise id; raise :class:`BadRequest` otherwise."""
    if not isinstance(value, str):
        raise BadRequest("'id' must be a string")
    problem = root_id_problem(value)
    if problem is not None:
        raise BadRequest(f"'id' {problem}")
    return value


def parse_flow_request(body: bytes, flow: Flow) -> FlowRequest:
    """Parse an optional JSON object body for ``flow``; raise :class:`BadRequest` if bad."""
    obj: Any = {}
    if body.strip():
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRequest("body must be a JSON object like {\"id\": \"my-id\", \"arg\": 1}")
    unknown = sorted(set(obj) - set(BODY_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}; "
                         f"allowed: {', '.join(BODY_FIELDS)}")
    promise_id = validate_id(obj["id"]) if "id" in obj else flow.promise_id
    arg = obj.get("arg", DEFAULT_ARG)
    if isinstance(arg, bool) or not isinstance(arg, int):
        raise BadRequest(f"'arg' must be an integer, got {json.dumps(arg)}")
    timeout = obj.get("timeout", DEFAULT_WAIT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise BadRequest(f"'timeout' must be a number of seconds, got {json.dumps(timeout)}")
    if not math.isfinite(timeout) or not 0 < timeout <= MAX_WAIT_S:
        raise BadRequest(f"'timeout' must be > 0 and <= {MAX_WAIT_S:g} seconds")
    return FlowRequest(promise_id, arg, float(timeout))


def probe_server(url: str, timeout_s: float = 1.0) -> str | None:
    """``None`` if something answers HTTP at ``url``; else why it cannot be reached.

    Any HTTP status counts as reachable (a real server may lack ``/health``);
    only connection failures and timeouts do not. Used before every hand-off
    because the SDK's own HTTP client retries an unreachable server forever.
    A resonate-pg database (``postgresql://``) counts as reachable when its
    host accepts a TCP connection on its port.
    """
    if connector_of(url) == POSTGRES:
        parts = urlsplit(url)
        try:
            with socket.create_connection((parts.hostname or "localhost", parts.port or 5432),
                                          timeout=timeout_s):
                return None
        except OSError as exc:
            return str(exc)
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout_s):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return str(reason)


class FlowRunner(Protocol):
    """What the routes need from the SDK side (see ``services.gateway.SdkBridge``)."""

    def connected(self) -> bool: ...

    def wait_connected(self, timeout_s: float) -> bool: ...

    def await_flow(self, flow: Flow, req: FlowRequest) -> Any: ...

    def start_flow(self, flow: Flow, req: FlowRequest) -> None: ...


def _error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), status


class _Routes:
    """The flow routes and ``/health`` of one gateway."""

    def __init__(self, runner: FlowRunner, server_url: str,
                 probe: Callable[[str], str | None]) -> None:
        self.runner = runner
        self.server_url = server_url
        self.probe = probe

    def unreachable(self) -> tuple[Response, int] | None:
        """A 503 answer when the server or our listener is not there, else None."""
        reason = self.probe(self.server_url)
        if reason is not None:
            return _error(503, f"cannot reach Resonate server at {self.server_url}: {reason}",
                          server=self.server_url)
        if not self.runner.wait_connected(2.0):
            return _error(503, f"gateway listener is not connected to the Resonate server at "
                               f"{self.server_url} yet; retry shortly", server=self.server_url)
        return None

    def handle(self, flow: Flow) -> tuple[Response, int]:
        try:
            req = parse_flow_request(flask_request.get_data(), flow)
        except BadRequest as exc:
            return _error(400, str(exc))
        problem = self.unreachable()
        return problem if problem is not None else self.run(flow, req)

    def run(self, flow: Flow, req: FlowRequest) -> tuple[Response, int]:
        """Hand the flow to the SDK; its answer, or the error it ended with."""
        try:
            if not flow.awaited:
                self.runner.start_flow(flow, req)
                return jsonify({"id": req.promise_id, "message": DETACHED_MESSAGE}), 200
            value = self.runner.await_flow(flow, req)
        except FlowConflict as exc:
            return _error(409, str(exc), id=req.promise_id)
        except FlowTimeout:
            return _error(504, f"{flow.name} {req.promise_id!r} did not finish within "
                               f"{req.timeout_s:g}s; it keeps running, re-send the same id "
                               "for its result", id=req.promise_id)
        except FlowFailed as exc:
            return _error(500, f"{flow.name} {req.promise_id!r} failed: {exc}",
                          id=req.promise_id)
        return jsonify({"id": req.promise_id, "message": value}), 200

    def health(self) -> tuple[Response, int]:
        if self.runner.connected():
            return jsonify({"status": "ok", "server": self.server_url}), 200
        return _error(503, f"gateway listener is not connected to the Resonate server at "
                           f"{self.server_url}", server=self.server_url)


def _http_error(exc: HTTPException) -> Response:
    """Flask's own errors (404, 405, ...) as one-line JSON, keeping ``Allow``."""
    code = exc.code or 500
    if code == 404:
        routes = ", ".join(f"POST {f.route}" for f in FLOWS.values())
        message = f"no route {flask_request.method} {flask_request.path}; try {routes}, " \
                  "GET /health"
    elif code == 405:
        message = f"method {flask_request.method} not allowed on {flask_request.path}"
    else:
        message = exc.description or exc.name
    resp = jsonify({"error": message})
    resp.status_code = code
    for key, val in exc.get_headers():
        if key.lower() == "allow":
            resp.headers[key] = val
    return resp


def create_app(
    runner: FlowRunner, server_url: str, probe: Callable[[str], str | None] = probe_server
) -> Flask:
    """The Flask app for one gateway; ``runner`` hands flows to the SDK."""
    app = Flask("rpcdemo-gateway")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    routes = _Routes(runner, server_url, probe)
    for flow in FLOWS.values():
        app.add_url_rule(flow.route, endpoint=flow.name,
                         view_func=lambda flow=flow: routes.handle(flow), methods=["POST"])
    app.add_url_rule("/health", endpoint="health", view_func=routes.health, methods=["GET"])
    app.register_error_handler(HTTPException, _http_error)

    def unexpected(exc: Exception) -> tuple[Response, int]:
        app.logger.exception("unexpected error")
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    app.register_error_handler(Exception, unexpected)
    return app
