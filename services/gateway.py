"""``python -m services.gateway``: the Flask gateway, the seed's ephemeral-to-durable boundary.

Node identity: group ``gateway``, id ``gateway`` (a unicast node that starts
flows but runs none; ``RPCDEMO_NODE_ID`` is ignored). Binds
``RPCDEMO_GATEWAY_HOST`` (default 127.0.0.1) : ``RPCDEMO_GATEWAY_PORT``
(default 5000; ``0`` picks a free port, written to the ready file as ``url``).
Routes and answers: :mod:`services.gateway_app`.

Flask is synchronous and the SDK is asyncio: :class:`SdkBridge` runs
``Resonate`` on one private event-loop thread and the request threads hand it
coroutines with ``asyncio.run_coroutine_threadsafe``. The ready file is written
once the gateway's own SSE listener is connected.

Exit codes: 0 after SIGTERM/SIGINT, 2 bad environment, 3 cannot listen (port
in use) or the SDK failed to start; each failure is one line on stderr.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Coroutine
from dataclasses import replace
from types import FrameType
from typing import Any, NoReturn

from resonate.error import ServerError
from resonate.handle import ResonateHandle
from resonate.resonate import Resonate
from werkzeug.serving import BaseWSGIServer, make_server

from resonate_rpc_cli.contracts import node_env
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError, exit_code_of
from resonate_rpc_cli.contracts.flows import Flow
from resonate_rpc_cli.contracts.lifeline import start_lifeline
from resonate_rpc_cli.contracts.naming import GATEWAY
from services.config import ConfigError, NodeConfig
from services.gateway_app import (
    FlowConflict,
    FlowFailed,
    FlowRequest,
    FlowTimeout,
    create_app,
)
from services.node import Node, configure_logging, say, write_ready_file

#: How long a detached start may take to be confirmed by the server.
DETACHED_CREATE_TIMEOUT_S = 10.0
STOP_GRACE_S = 2.0

log = logging.getLogger("rpcdemo.gateway")


async def flow_outcome(resonate: Resonate, promise_id: str, handle: ResonateHandle[Any]) -> Any:
    """The value of the flow ``handle`` started; raise the error its promise was rejected with.

    A handle can be rejected by the SDK rather than by the server: the SDK's
    listener refresh (every 60 s, resonate 0.8.1 ``Resonate._run_refresh``)
    re-registers every pending subscription, including one whose
    ``promise.create`` is still in flight; the server answers that
    ``promise.register_listener`` 404 and the SDK settles the handle rejected
    with "promise <id> not found" although the create succeeds a moment later.
    So a rejection is read once more from the server, through a fresh
    subscription (``resonate.get``): the server's record is the flow's outcome
    (its value, the wait for it, or its real error). If the server answers 404
    there too, the promise really is gone and the first error stands.
    """
    try:
        return await handle.result()
    except Exception as first:
        try:
            again = await resonate.get(promise_id)
        except ServerError as exc:
            if exc.code == 404:
                raise first from None
            raise
    return await again.result()


class SdkBridge:
    """The SDK on a private event-loop thread, callable from Flask's request threads."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="resonate-loop", daemon=True)
        self._connected = threading.Event()
        #: the gateway's own URL, for the ready file (set once it listens)
        self.url: str | None = None

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        """Start the loop thread and build the SDK on it; raise if that fails."""
        self._thread.start()

        async def build() -> None:
            self.node.start_sdk(self._on_connect)

        self._call(build(), timeout_s=30.0)

    def _on_connect(self) -> None:
        first = not self._connected.is_set()
        self._connected.set()
        if first:
            cfg = self.node.config
            if cfg.ready_file is not None:
                info = self.node.ready_info()
                if self.url is not None:
                    info["url"] = self.url
                write_ready_file(cfg.ready_file, info)
            say(f"gateway ready: listener connected to {cfg.url}")

    def _call[T](self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout_s)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise

    # -- FlowRunner -------------------------------------------------------------

    def connected(self) -> bool:
        source = self.node.source
        return source is not None and source.connected

    def wait_connected(self, timeout_s: float) -> bool:
        if self.connected():
            return True
        self._connected.wait(timeout_s)
        return self.connected()

    async def _hand_off(self, flow: Flow, req: FlowRequest) -> ResonateHandle[Any]:
        """Start (or reconnect to) ``req.promise_id``; refuse an id another flow owns."""
        resonate = self.node.resonate
        assert resonate is not None
        handle = resonate.options(target=flow.root_group).rpc(req.promise_id, flow.root, req.arg)
        await handle.id()  # the server has the promise (new, or the existing one)
        record = await resonate.promises.get(req.promise_id)
        data = record.param.data
        func = data.get("func") if isinstance(data, dict) else None
        if func != flow.root:
            raise FlowConflict(f"id {req.promise_id!r} already names a call of {func!r}, "
                               f"not {flow.root!r} ({flow.name}); pick another id")
        return handle

    def await_flow(self, flow: Flow, req: FlowRequest) -> Any:
        """Start or reconnect to ``req.promise_id`` and wait for its value."""

        async def run() -> Any:
            handle = await self._hand_off(flow, req)
            assert self.node.resonate is not None
            return await flow_outcome(self.node.resonate, req.promise_id, handle)

        return self._run_flow(run(), req.timeout_s)

    def start_flow(self, flow: Flow, req: FlowRequest) -> None:
        """Start ``req.promise_id`` and return once the server has its promise."""

        async def run() -> None:
            await self._hand_off(flow, req)  # nobody awaits the chain

        self._run_flow(run(), min(req.timeout_s, DETACHED_CREATE_TIMEOUT_S))

    def _run_flow(self, coro: Coroutine[Any, Any, Any], timeout_s: float) -> Any:
        try:
            return self._call(coro, timeout_s)
        except concurrent.futures.TimeoutError:
            raise FlowTimeout() from None
        except FlowConflict:
            raise
        except Exception as exc:
            raise FlowFailed(f"{type(exc).__name__}: {exc}") from exc

    def stop(self) -> None:
        """Stop the SDK (bounded) and the loop thread."""
        resonate = self.node.resonate
        if resonate is not None:
            try:
                self._call(resonate.stop(), STOP_GRACE_S)
            except Exception as exc:
                log.warning("SDK stop: %s: %s", type(exc).__name__, exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_GRACE_S)


def bind_address(env: dict[str, str] | os._Environ[str]) -> tuple[str, int]:
    """The gateway's host and port from the environment; :class:`ConfigError` if bad."""
    host: str = node_env.GATEWAY_HOST.read(env)
    port: int = node_env.GATEWAY_PORT.read(env)
    return host, port


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; ``OSError`` if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def main() -> NoReturn:
    """Run the gateway until SIGTERM/SIGINT; exit 0, 2 (bad configuration) or 3."""
    start_lifeline()
    sys.exit(exit_code_of("gateway: error", _serve))


def _serve() -> None:
    try:
        config = replace(NodeConfig.from_env(GATEWAY, default_name=GATEWAY), node_id=GATEWAY)
        host, port = bind_address(os.environ)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    configure_logging()
    node = Node(GATEWAY, default_name=GATEWAY)
    node.configure(config)
    bridge = SdkBridge(node)
    app = create_app(bridge, config.url)
    try:
        listener = listen(host, port)
    except (OSError, OverflowError) as exc:
        raise NotRunningError(f"cannot listen on {host}:{port}: {exc}") from None
    # werkzeug exits 1 with two lines of its own when it binds and fails; given a
    # bound socket it does not bind at all (it uses a duplicate of the descriptor)
    server: BaseWSGIServer = make_server(host, port, app, threaded=True, fd=listener.fileno())
    listener.close()
    url = f"http://{host}:{server.port}"
    bridge.url = url

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        bridge.start()
    except Exception as exc:
        server.server_close()
        raise NotRunningError(
            f"cannot start the Resonate SDK: {type(exc).__name__}: {exc}") from None
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    say(f"gateway listening on {url}; server {config.url}")
    while not stop.wait(0.5):
        if not serving.is_alive():
            break
    say("gateway stopping")
    server.shutdown()
    server.server_close()
    bridge.stop()


if __name__ == "__main__":
    main()
