"""The HTTP face of the embedded server.

Routes: ``POST /`` (the protocol's JSON envelope), ``GET /poll/{group}/{pid}``
(SSE push), ``GET /health``, ``GET /ready`` and, unless ``--no-extras``,
``GET /rpcdemo/info``, ``POST /rpcdemo/release`` and ``POST /rpcdemo/gc``.

Every request goes through the :class:`Engine` on the one event loop; the
messages it produces are delivered by the :class:`Hub` right after, and the
response is sent only after the engine has committed the request to the store
(at once, one copy into the store's redo log; with ``--fsync``, once per loop turn
for every request of that turn: group commit).
A restarted server reads its store between requests (``_load_store``); searches,
``/rpcdemo/info``, release and retention wait for :attr:`EmbeddedServer.loaded`.
Any malformed request (bad JSON, unknown kind, wrong types, oversized body) is
answered with a 4xx JSON error in the protocol's envelope shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web
from resonate.connections.local import OutgoingMessage

from resonate_rpc_cli import __version__
from resonate_rpc_cli.server import wire
from resonate_rpc_cli.server.auth import Authorizer
from resonate_rpc_cli.server.config import ServerConfig
from resonate_rpc_cli.server.delivery import Address, Hub, Listener, Push
from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.executes import ExecuteLog, execute_of
from resonate_rpc_cli.server.gcpolicy import FREEZE_PAGES, freeze, freeze_loop
from resonate_rpc_cli.server.httpio import (
    error,
    gather_quietly,
    loop_time,
    plain_error,
    read_body,
)
from resonate_rpc_cli.server.probe import LoopProbe
from resonate_rpc_cli.server.request import KNOWN_KINDS, SEARCHES, unwrap
from resonate_rpc_cli.server.response import error_response
from resonate_rpc_cli.server.store import StoreError
from resonate_rpc_cli.server.sweeper import Sweeper

log = logging.getLogger("rpcdemo.server")


_json = msgspec.json.Encoder()


class EmbeddedServer:
    """Engine + Hub + the aiohttp routes. ``on_fatal`` is called if the store fails."""

    def __init__(
        self, config: ServerConfig, engine: Engine,
        on_fatal: Callable[[str], None] | None = None, auth: Authorizer | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        engine.progress.visible = config.extras  # --no-extras: plain task records
        self.hub = Hub(config.hold_max, config.hold_age_s)
        self.on_fatal = on_fatal
        self.auth = auth  # None: auth off (serve() loads it before anything is created)
        self.fatal: str | None = None
        #: the last ``execute`` per task: where and when (no duplicates to one process)
        self.executes = ExecuteLog()
        #: Requests served per kind, and the time spent serving them between decoding
        #: the body and handing the response to aiohttp (for the benchmark): wall time
        #: (``busy_s``, which counts time the OS gave other processes) and this thread's
        #: CPU time (``busy_cpu_s``, the server's own work).
        self.requests: Counter[str] = Counter()
        self.busy_s = 0.0
        self.busy_cpu_s = 0.0
        self.probe = LoopProbe()
        #: Set once every stored record is in the state (at once for a new or memory store).
        self.loaded = asyncio.Event()
        self.sweeper = Sweeper(engine, self._guard, self.loaded)
        self._background: list[asyncio.Task[None]] = []
        self._commit: asyncio.Future[None] | None = None
        self._streams: set[asyncio.Task[Any]] = set()

    # -- delivery ----------------------------------------------------------------

    def dispatch(self, outgoing: list[OutgoingMessage]) -> None:
        """Hand each produced message to the hub; remember when each ``execute`` went out."""
        now = loop_time()
        for msg in outgoing:
            address = Address.parse(msg.address)
            if address is None:
                log.warning("dropping message for unroutable address %s", msg.address)
                continue
            execute = execute_of(msg.message)
            task_id = execute[0] if execute is not None else None
            if task_id is not None and not self.hub.groups.get(address.group):
                continue  # an execute nobody can take is dropped, never held: skip encoding it
            wired = wire.message(msg.message, self.config.url)
            push = Push(address, _json.encode(wired).decode(), task_id)
            listener = self.hub.deliver(push, now)
            if listener is not None and execute is not None:
                self.executes.sent(execute[0], listener, execute[1], now)

    def resend_pending(self, listener: Listener) -> int:
        """Send ``execute`` for the pending tasks of the listener's group that nobody has."""
        now = loop_time()
        sent = 0
        for task_id, version, target in self.engine.pending_tasks():
            address = Address.parse(target)
            if address is None or address.group != listener.group:
                continue
            if not address.anycast and address.pid != listener.pid:
                continue
            if self.executes.has_it(task_id, listener, version, now):
                continue
            wired = wire.execute_message(task_id, version, self.config.url)
            self.hub.send_to(listener, Push(address, _json.encode(wired).decode(), task_id))
            self.executes.sent(task_id, listener, version, now)
            sent += 1
        return sent

    def _group_commit(self) -> asyncio.Future[None]:
        """A future done once everything applied so far is committed.

        The commit runs once per event-loop turn for every request applied in
        that turn, so concurrent requests share one SQLite commit; each is
        acknowledged (and its messages delivered) only after it.
        """
        if self._commit is None:
            loop = asyncio.get_running_loop()
            self._commit = loop.create_future()
            loop.call_soon(self._commit_now)
        return self._commit

    def _commit_now(self) -> None:
        done, self._commit = self._commit, None
        cpu, started = time.thread_time(), time.perf_counter()
        try:
            self._guard(self.engine.commit)
        except web.HTTPException as exc:
            if done is not None and not done.done():
                done.set_exception(exc)
            return
        if done is not None and not done.done():
            done.set_result(None)
        self._busy(started, cpu)

    def _busy(self, started: float, cpu: float) -> None:
        """Count the time since ``started`` (wall) and ``cpu`` (thread CPU, read first) as busy."""
        self.busy_s += time.perf_counter() - started
        self.busy_cpu_s += time.thread_time() - cpu

    def _fail(self, exc: StoreError) -> None:
        """The store failed: stop (``on_fatal``); nothing more is acknowledged."""
        self.fatal = str(exc)
        log.error("store failure, stopping: %s", exc)
        if self.on_fatal is not None:
            self.on_fatal(str(exc))

    def _guard[T](self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)``, an engine call; a store failure is fatal (never acknowledge what is
        not kept)."""
        try:
            return fn(*args)
        except StoreError as exc:
            self._fail(exc)
            raise web.HTTPServiceUnavailable(
                text=_json.encode(error_response(None, None, 503, str(exc))).decode(),
                content_type="application/json",
            ) from exc

    async def _load_store(self) -> None:
        """Read the store a page per loop turn (freezing what was read: gcpolicy.py),
        then re-send every pending task's ``execute``."""
        pages = 0
        while not self._guard(self.engine.load_step):
            pages += 1
            if pages % FREEZE_PAGES == 0:
                freeze()
            await asyncio.sleep(0)
        freeze()
        self.loaded.set()
        for members in list(self.hub.groups.values()):
            for listener in [m for m in members if not m.closed]:
                self.resend_pending(listener)

    async def _tick_loop(self) -> None:
        """Tick every ``tick_interval_s``; at once again (after yielding) while a backlog of
        due timeouts remains, so a burst is worked off in bounded slices, not one stall."""
        backlog = False
        while True:
            await asyncio.sleep(0 if backlog else self.config.tick_interval_s)
            try:
                outgoing = self.engine.tick()
            except StoreError as exc:
                self._fail(exc)
                return
            self.dispatch(outgoing)
            now = loop_time()
            self.hub.expire(now)
            self.executes.forget_old(now)
            backlog = self.engine.backlog()

    # -- HTTP --------------------------------------------------------------------

    async def handle_request(self, request: web.Request) -> web.Response:
        if self.fatal is not None:  # the store failed: nothing more is acknowledged
            return error(503, f"store failure: {self.fatal}")
        body = await read_body(request, self.config.max_body_bytes)
        if body is None:
            return error(413, f"request body larger than {self.config.max_body_bytes} bytes")
        try:
            envelope = msgspec.json.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return error(400, f"invalid JSON: {exc}")
        cpu, started = time.thread_time(), time.perf_counter()
        if self.auth is not None and (refused := self.auth.refuse(envelope)) is not None:
            self._busy(started, cpu)
            return refused
        flat = unwrap(envelope)  # the envelope's own data, made flat
        if not self.loaded.is_set() and isinstance(flat, dict) and flat.get("kind") in SEARCHES:
            await self.loaded.wait()
        # durable before the response leaves: one log copy; --fsync: group commit (engine.py)
        group = self.config.fsync
        wrapped, outgoing = self._guard(self.engine.serve, flat, None, group)
        if group and self.engine.uncommitted:
            self._busy(started, cpu)
            await asyncio.shield(self._group_commit())
            cpu, started = time.thread_time(), time.perf_counter()
        if outgoing:
            self.dispatch(outgoing)
        status = wrapped["head"]["status"]
        body = _json.encode(wrapped)
        kind = wrapped["kind"]
        self.requests[kind if kind in KNOWN_KINDS else "invalid"] += 1
        self._busy(started, cpu)
        return web.Response(
            body=body, status=status if 400 <= status < 600 else 200,
            content_type="application/json",
        )

    async def handle_poll(self, request: web.Request) -> web.StreamResponse:
        group = request.match_info["group"]
        pid = request.match_info["pid"]
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        await resp.write(b": ok\n\n")
        listener = Listener(group=group, pid=pid)
        self.hub.connect(listener, loop_time())
        self.resend_pending(listener)
        task = asyncio.current_task()
        if task is not None:
            self._streams.add(task)
        unwritten: list[Push] = []
        try:
            await self._pump(listener, resp, unwritten)
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._streams.discard(task)
            self.executes.rerouted(self.hub.disconnect(listener, unwritten, loop_time()))
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    async def _pump(
        self, listener: Listener, resp: web.StreamResponse, unwritten: list[Push]
    ) -> None:
        """Write queued messages (one ``data:`` line each) until the stream's lifetime ends."""
        loop = asyncio.get_running_loop()
        ends_at = loop.time() + self.config.stream_lifetime_s
        while True:
            left = ends_at - loop.time()
            if left <= 0:
                return
            try:
                first = await asyncio.wait_for(
                    listener.queue.get(), min(self.config.keepalive_s, left)
                )
            except TimeoutError:
                await resp.write(b": keepalive\n\n")
                continue
            batch = [first]
            while not listener.queue.empty():
                batch.append(listener.queue.get_nowait())
            try:
                await resp.write(b"".join(f"data: {p.data}\n\n".encode() for p in batch))
            except BaseException:
                unwritten.extend(batch)
                raise

    async def handle_health(self, request: web.Request) -> web.Response:
        if self.fatal is not None:
            return web.json_response({"status": "failing", "error": self.fatal}, status=503)
        return web.json_response({"status": "ok"})

    async def handle_ready(self, request: web.Request) -> web.Response:
        # Serving means ready: a record not read yet is read when a request needs it.
        return await self.handle_health(request)

    async def handle_info(self, request: web.Request) -> web.Response:
        await self.loaded.wait()  # the counts cover every record
        store = self.config.store
        return web.json_response({
            "kind": "embedded",
            "durable": self.engine.durable,
            "store": str(store) if store is not None else None,
            "version": __version__,
            "listeners": self.hub.listener_pids(),
            "held": len(self.hub.held),
            "connects": self.hub.connects,
            "requests": dict(self.requests),
            "busy_ms": round(self.busy_s * 1000, 1),
            "busy_cpu_ms": round(self.busy_cpu_s * 1000, 1),
            "promises": len(self.engine.state.promises),
            "promise_states": self.engine.counts(),
            "tasks": len(self.engine.state.tasks),
            "loop": self.probe.report(),
            "retain_s": self.config.retain_s,
            "collected": self.sweeper.total.to_json(),
        })

    async def handle_release(self, request: web.Request) -> web.Response:
        """``{"pid"}`` → ``{"released": [task ids]}``: that node's leases go back to pending."""
        if self.fatal is not None:  # the store failed: nothing more is acknowledged
            return error(503, f"store failure: {self.fatal}")
        body = await read_body(request, self.config.max_body_bytes)
        if body is None:
            return plain_error(413, "request body too large")
        try:
            obj = msgspec.json.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return plain_error(400, f"invalid JSON: {exc}")
        pid = obj.get("pid") if isinstance(obj, dict) else None
        if not isinstance(pid, str) or not pid:
            return plain_error(400, 'body must be {"pid": "<node id>"}')
        # The caller knows the node is dead: forget its streams first (a killed
        # process's stream can linger until a write fails), so nothing released
        # is handed back to it and its group's next member gets the work.
        for listener in self.hub.listeners_of(pid):
            self.hub.disconnect(listener, [])
        await self.loaded.wait()  # every lease it holds
        released, outgoing = self._guard(lambda: self.engine.release(pid))
        self.dispatch(outgoing)
        log.info("released %d lease(s) of pid %s", len(released), pid)
        return web.json_response({"released": released})

    async def handle_gc(self, request: web.Request) -> web.Response:
        """``{"older_than_s", "dry_run"?}`` → what was (or would be) dropped."""
        body = await read_body(request, self.config.max_body_bytes)
        try:
            obj = msgspec.json.decode(body or b"")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return plain_error(400, f"invalid JSON: {exc}")
        older = obj.get("older_than_s") if isinstance(obj, dict) else None
        dry_run = obj.get("dry_run", False) if isinstance(obj, dict) else False
        if (isinstance(older, bool) or not isinstance(older, int | float) or older < 0
                or not isinstance(dry_run, bool)):
            return plain_error(400, 'body must be {"older_than_s": seconds >= 0, '
                                     '"dry_run": true|false}')
        done = await self.sweeper.sweep(float(older), dry_run)
        return web.json_response({**done.to_json(), "dry_run": dry_run})

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes + 1,
                              middlewares=[self.auth.middleware()] if self.auth else [])
        app.router.add_post("/", self.handle_request)
        app.router.add_get("/poll/{group}/{pid}", self.handle_poll)
        app.router.add_get("/health", self.handle_health)
        app.router.add_get("/ready", self.handle_ready)
        if self.config.extras:
            app.router.add_get("/rpcdemo/info", self.handle_info)
            app.router.add_post("/rpcdemo/release", self.handle_release)
            app.router.add_post("/rpcdemo/gc", self.handle_gc)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        self._background = [asyncio.create_task(self._load_store()),
                            asyncio.create_task(self._tick_loop()),
                            asyncio.create_task(self.probe.run()),
                            asyncio.create_task(freeze_loop())]
        if self.config.retain_s is not None:
            self._background.append(asyncio.create_task(self.sweeper.run(self.config.retain_s)))

    async def _on_shutdown(self, app: web.Application) -> None:
        for task in [*self._streams, *self._background]:
            task.cancel()
        tasks: list[Awaitable[Any]] = [*self._streams, *self._background]
        await gather_quietly(tasks)
