"""The HTTP face of the embedded server: ``POST /``, ``GET /poll/{group}/{pid}`` (SSE).

Every request is applied to one :class:`~resonate.connections.local.ServerState`
on one event loop; the outgoing messages it produces are drained right after
``apply`` (with no ``await`` in between, since ``apply`` clears them) and handed
to the :class:`~resonate_rpc_cli.server.delivery.Hub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from resonate.connections.local import (
    OutgoingMessage,
    ServerState,
    unwrap_request_envelope,
    wrap_response_envelope,
)
from resonate.error import ServerError

from resonate_rpc_cli.server.delivery import Address, Hub, Listener

log = logging.getLogger("rpcdemo.server")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8001
    tick_interval_s: float = 0.1
    keepalive_s: float = 15.0
    stream_lifetime_s: float = 240.0
    hold_max: int = 10_000
    hold_age_s: float = 300.0
    max_body_bytes: int = 4 * 1024 * 1024


def now_ms() -> int:
    return int(time.time() * 1000)


class EmbeddedServer:
    """ServerState + Hub + the aiohttp routes."""

    def __init__(self, config: ServerConfig, state: ServerState | None = None) -> None:
        self.config = config
        self.state = state if state is not None else ServerState()
        self.hub = Hub(config.hold_max, config.hold_age_s)
        self._tick_task: asyncio.Task[None] | None = None

    # -- state machine ------------------------------------------------------

    def apply(self, req: Any) -> dict[str, Any]:
        """Apply one flat request; dispatch what it produced; return the flat response."""
        try:
            resp = self.state.apply(now_ms(), req)
        except ServerError as exc:
            self.state.outgoing.clear()
            kind = req.get("kind") if isinstance(req, dict) else None
            corr = req.get("corrId") if isinstance(req, dict) else None
            return {"kind": kind, "corrId": corr, "status": exc.code, "error": exc.message}
        self._dispatch(self.state.outgoing)
        self.state.outgoing = []
        return resp

    def tick(self) -> None:
        self.state.outgoing = []
        self.state.tick(now_ms())
        self._dispatch(self.state.outgoing)
        self.state.outgoing = []

    def _dispatch(self, outgoing: list[OutgoingMessage]) -> None:
        for msg in outgoing:
            address = Address.parse(msg.address)
            if address is None:
                log.warning("dropping message for unroutable address %s", msg.address)
                continue
            self.hub.deliver(address, json.dumps(msg.message, separators=(",", ":")))

    async def _tick_loop(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(self.config.tick_interval_s)

    # -- HTTP -----------------------------------------------------------------

    async def handle_request(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            envelope = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, None, None, f"invalid JSON: {exc}")
        flat = unwrap_request_envelope(envelope)
        if not isinstance(flat, dict):
            return _error(400, None, None, "request must be a JSON object")
        resp = self.apply(flat)
        return web.json_response(wrap_response_envelope(resp))

    async def handle_poll(self, request: web.Request) -> web.StreamResponse:
        group = request.match_info["group"]
        pid = request.match_info["pid"]
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        await resp.write(b": ok\n\n")
        listener = Listener(group=group, pid=pid)
        self.hub.connect(listener)
        undelivered: list[str] = []
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + self.config.stream_lifetime_s
        try:
            while True:
                left = ends_at - loop.time()
                if left <= 0:
                    break
                try:
                    data = await asyncio.wait_for(
                        listener.queue.get(), min(self.config.keepalive_s, left)
                    )
                except TimeoutError:
                    await resp.write(b": keepalive\n\n")
                    continue
                try:
                    await resp.write(f"data: {data}\n\n".encode())
                except (ConnectionResetError, RuntimeError):
                    undelivered.append(data)
                    raise
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            self.hub.disconnect(listener, undelivered)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    async def handle_health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def handle_ready(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ready", **self.hub.snapshot()})

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app.router.add_post("/", self.handle_request)
        app.router.add_get("/poll/{group}/{pid}", self.handle_poll)
        app.router.add_get("/health", self.handle_health)
        app.router.add_get("/ready", self.handle_ready)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        self._tick_task = asyncio.create_task(self._tick_loop())

    async def _on_cleanup(self, app: web.Application) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task


def _error(status: int, kind: Any, corr: Any, message: str) -> web.Response:
    flat = {"kind": kind, "corrId": corr, "status": status, "error": message}
    return web.json_response(wrap_response_envelope(flat), status=status)
