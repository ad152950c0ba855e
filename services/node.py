"""The boilerplate every service shares, so each ``service_X.py`` reads like the seed.

A service module builds a :class:`Node` for its group, registers one durable
function with :meth:`Node.register`, and calls :meth:`Node.run`::

    node = Node("service-b")

    @node.register
    async def bar(ctx: Context, arg: int) -> int:
        baz = await ctx.options(target="service-c").rpc("baz", arg)
        return await node.step(ctx, "bar", arg, children={"baz": baz})

    if __name__ == "__main__":
        node.run()

:meth:`Node.run` starts the lifeline, reads the environment contract
(:mod:`services.config`), builds ``Resonate`` inside a running loop with our
:class:`~services.sse.NodeSSEConnection` as its only source (on resonate-pg: one
``PostgresConnection``, see :mod:`services.pgsource`), writes the ready
file once the stream is connected, and on SIGTERM/SIGINT stops the SDK and
exits 0. Bad configuration exits 2, a ledger that cannot be opened exits 3,
each with one line on stderr.

:meth:`Node.step` is where a function's own work happens: inside a ``ctx.run``
checkpoint that appends the ledger ``start`` line before the work and the
``end`` line (with the value) before returning it. The value comes from the
oracle in :mod:`resonate_rpc_cli.contracts.flows`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, NotRequired, TypedDict

from resonate.connections import HttpConnection
from resonate.context import Context
from resonate.resonate import Resonate

from resonate_rpc_cli.contracts.connectors import POSTGRES, connector_of
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError, exit_code_of
from resonate_rpc_cli.contracts.flows import expected_value
from resonate_rpc_cli.contracts.ledger import LedgerEntry, LedgerWriter
from resonate_rpc_cli.contracts.lifeline import start_lifeline
from resonate_rpc_cli.contracts.naming import DELAY_SLEEP, DELAY_WORK
from services.config import ConfigError, NodeConfig
from services.sse import RECONNECT_BACKOFF, NodeSSEConnection

if TYPE_CHECKING:
    from services.pgsource import ListenWatch

DurableFn = Callable[[Context, int], Awaitable[int]]

#: How long a stopping node waits for in-flight work before exiting anyway
#: (an unfinished step's lease then lapses and another node re-runs it).
STOP_GRACE_S = 2.0

log = logging.getLogger("rpcdemo.node")


class InjectedFailure(RuntimeError):
    """Raised by a step on its first attempt (``RPCDEMO_FAIL_FIRST=1``) or on every attempt
    (its group in ``RPCDEMO_FAIL_ALWAYS``)."""


class WrongChildValue(RuntimeError):
    """A remote call returned a value the oracle says is wrong; the flow is rejected."""


class ReadyInfo(TypedDict):
    """The ready file's JSON (the supervisor reads it): who is ready, and when; the
    gateway adds the ``url`` it serves."""

    name: str
    group: str
    node_id: str
    pid: int
    ready_at: float
    url: NotRequired[str]


def write_ready_file(path: Path, info: ReadyInfo) -> None:
    """Write ``info`` as JSON to ``path`` atomically (temp file in the same dir + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def say(message: str) -> None:
    """One line on stdout, timestamped (the supervisor keeps it in the node's log)."""
    stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp} {message}", flush=True)


class Node:
    """One node process of a group: its config, its SDK instance, its ledger."""

    def __init__(self, group: str, default_name: str | None = None) -> None:
        self.group = group
        self.default_name = default_name
        self.functions: list[DurableFn] = []
        self._config: NodeConfig | None = None
        self._ledger: LedgerWriter | None = None
        self.resonate: Resonate | None = None
        self.source: NodeSSEConnection | ListenWatch | None = None  # .connected

    @property
    def config(self) -> NodeConfig:
        if self._config is None:
            raise RuntimeError("node not configured: call run() first")
        return self._config

    def configure(self, config: NodeConfig) -> None:
        """Use ``config`` (the gateway builds its own; services get theirs in :meth:`run`)."""
        self._config = config

    def register(self, fn: DurableFn) -> DurableFn:
        """Decorator: register ``fn`` (under its ``__name__``) when the node starts."""
        self.functions.append(fn)
        return fn

    # -- the work of one step ---------------------------------------------------

    async def step(
        self, ctx: Context, func: str, arg: int, children: Mapping[str, int] | None = None
    ) -> int:
        """Do ``func``'s own work for ``arg`` in a durable checkpoint; return its value.

        ``children`` maps each function this one awaited (called with the same
        ``arg``) to the value it returned; a value the oracle disagrees with
        raises :class:`WrongChildValue` here, in the workflow body, so the flow
        is rejected rather than retried forever. In ``sleep`` delay mode a
        durable ``ctx.sleep`` comes first.
        """
        for child, got in (children or {}).items():
            want = expected_value(child, arg)
            if got != want:
                raise WrongChildValue(f"{func}({arg}): {child} returned {got!r}, expected {want}")
        cfg = self.config
        if cfg.step_delay_s > 0 and cfg.delay_mode == DELAY_SLEEP:
            await ctx.sleep(timedelta(seconds=cfg.step_delay_s))
        value: int = await ctx.run(_checkpoint, self, func, ctx.info.id, arg)
        return value

    async def checkpoint(self, ctx: Context, func: str, promise_id: str, arg: int) -> int:
        """The body of the ``ctx.run`` child: ledger ``start``, work, ledger ``end``."""
        cfg = self.config
        step_id = ctx.info.id
        self._append("start", func, promise_id, step_id, arg, value=None)
        if cfg.fail_first and self._first_attempt(step_id):
            say(f"{cfg.name} {func}({arg}) injected failure on first attempt step={step_id}")
            raise InjectedFailure(f"{func}({arg}): injected failure on the first attempt")
        if cfg.fail_always:
            say(f"{cfg.name} {func}({arg}) failed: InjectedFailure: fails on every attempt "
                f"step={step_id}")
            raise InjectedFailure(f"{func}({arg}): injected failure on every attempt")
        if cfg.step_delay_s > 0 and cfg.delay_mode == DELAY_WORK:
            await asyncio.sleep(cfg.step_delay_s)
        value = expected_value(func, arg)
        self._append("end", func, promise_id, step_id, arg, value=value)
        say(f"{cfg.name} {func}({arg}) = {value} promise={promise_id} step={step_id}")
        return value

    def _append(
        self, phase: str, func: str, promise_id: str, step_id: str, arg: int, *, value: Any
    ) -> None:
        cfg = self.config
        assert self._ledger is not None
        self._ledger.append(LedgerEntry(
            ts=time.time(), phase=phase, node=cfg.name, node_id=cfg.node_id,
            os_pid=os.getpid(), group=cfg.group, func=func, promise_id=promise_id,
            step_id=step_id, arg=arg, value=value,
        ))

    def _first_attempt(self, step_id: str) -> bool:
        """True exactly once per ``step_id`` across all processes sharing the ledger dir."""
        marker_dir = self.config.ledger_dir / "attempts"
        marker_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(step_id.encode()).hexdigest()[:32]
        try:
            fd = os.open(marker_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(step_id + "\n")
        return True

    # -- process lifecycle ------------------------------------------------------

    def run(self) -> NoReturn:
        """Run the node until SIGTERM/SIGINT; never returns (exits 0, 2 or 3)."""
        start_lifeline()
        sys.exit(exit_code_of(f"{self.default_name or self.group}: error", self._run))

    def _run(self) -> None:
        try:
            self._config = NodeConfig.from_env(self.group, default_name=self.default_name)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        try:
            self._ledger = LedgerWriter(self.config.ledger_dir, self.config.name,
                                        self.config.node_id)
        except OSError as exc:
            raise NotRunningError(
                f"cannot open ledger in {self.config.ledger_dir}: {exc}") from None
        configure_logging()
        try:
            asyncio.run(self._serve())
        finally:
            self._ledger.close()

    def start_sdk(self, on_connect: Callable[[], None] | None = None) -> Resonate:
        """Build and start ``Resonate`` for this node; must run inside the event loop.

        The connector follows the URL (``contracts/connectors.py``): on resonate-pg
        (``postgresql://``) one ``PostgresConnection`` is the network and the source
        (see :mod:`services.pgsource`); else our SSE source and an HTTP network.
        """
        cfg = self.config
        if connector_of(cfg.url) == POSTGRES:
            from services.pgsource import postgres_connection  # noqa: PLC0415 (psycopg: slow)

            conn, self.source = postgres_connection(cfg.url, cfg.node_id, cfg.group, on_connect)
            return self._start(Resonate(network=conn, group=cfg.group, pid=cfg.node_id,
                                        ttl=timedelta(seconds=cfg.ttl_s), autostart=False))
        self.source = NodeSSEConnection(cfg.url, pid=cfg.node_id, group=cfg.group,
                                        auth=cfg.token, on_connect=on_connect)
        # Our own network too: the SDK's default resend ladder (1 s doubling to
        # 60 s) leaves a node idle for seconds after a server restart; ours is
        # the listener's short capped one.
        network = HttpConnection(cfg.url, auth=cfg.token, backoff=RECONNECT_BACKOFF)
        resonate = Resonate(
            network=network, group=cfg.group, pid=cfg.node_id,
            ttl=timedelta(seconds=cfg.ttl_s), sources=[self.source], token=cfg.token,
            autostart=False,
        )
        return self._start(resonate)

    def _start(self, resonate: Resonate) -> Resonate:
        for fn in self.functions:
            resonate.register(fn)
        self.resonate = resonate.start()
        return resonate

    def ready_info(self) -> ReadyInfo:
        cfg = self.config
        return {"name": cfg.name, "group": cfg.group, "node_id": cfg.node_id,
                "pid": os.getpid(), "ready_at": time.time()}

    def on_first_connect(self) -> Callable[[], None]:
        """A connect callback that writes the ready file the first time only."""
        done = False

        def connected() -> None:
            nonlocal done
            if done:
                return
            done = True
            if self.config.ready_file is not None:
                write_ready_file(self.config.ready_file, self.ready_info())
            say(f"{self.config.name} ready: group={self.group} node_id={self.config.node_id} "
                f"server={self.config.url}")

        return connected

    async def _serve(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        resonate = self.start_sdk(self.on_first_connect())
        say(f"{self.config.name} starting: group={self.group} node_id={self.config.node_id} "
            f"functions={','.join(fn.__name__ for fn in self.functions)}")
        await stop.wait()
        say(f"{self.config.name} stopping")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(resonate.stop(), STOP_GRACE_S)


async def _checkpoint(ctx: Context, node: Node, func: str, promise_id: str, arg: int) -> int:
    """Module-level trampoline so ``ctx.run`` gets a plain function (stable name, hints)."""
    return await node.checkpoint(ctx, func, promise_id, arg)


def configure_logging() -> None:
    """SDK warnings and our own info lines, to stderr (the node's log)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("rpcdemo").setLevel(logging.INFO)
