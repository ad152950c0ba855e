"""The links of one topology: one :class:`~.proxy.Link` per node, on their own loop thread.

The supervisor daemon owns a :class:`Switchboard` (unless ``up --no-links``):
before it starts a node it asks :meth:`Switchboard.url_for` for the node's
``RESONATE_URL``, which creates the node's link the first time and returns the
same port for every later incarnation (a respawned node keeps its link and
its faults; ``scale`` adds links as slots are added; :meth:`drop` removes the
link of a slot scaled away). Faults are asked for over the daemon's control
socket (``links.*`` ops, see :mod:`.client`); :meth:`Switchboard.request` runs
them on the same loop as the proxies.

Why a thread of the supervisor and not a process of its own: the ports must
exist before the nodes that use them start, scale and respawn happen in the
supervisor, and the links must live exactly as long as the topology; a
separate process would need a port hand-shake with the supervisor and rules
for its own restarts. Faults are in memory only: they end with the topology
(a new ``up`` starts with every link healthy).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from resonate_rpc_cli.clients import jsonline
from resonate_rpc_cli.contracts.errors import RpcdemoError, UsageError
from resonate_rpc_cli.links.handoff import Handoff
from resonate_rpc_cli.links.proxy import Link
from resonate_rpc_cli.links.rules import check_delay, check_seconds, resolve_target
from resonate_rpc_cli.links.status import LinkStatus

START_TIMEOUT_S = 5.0
#: How long a fault request waits for the server to cut the links' handed-over connections.
CUT_WAIT_S = 2.0


class Switchboard:
    """Every node's link, on a private event loop thread.

    Thread-safe: :meth:`url_for`, :meth:`drop`, :meth:`request` and
    :meth:`close` may be called from any thread; they run on the loop thread.
    """

    def __init__(self, upstream: tuple[str, int], handoff: Path | None = None) -> None:
        self.upstream = upstream
        #: where the server adopts the links' healthy connections (None: links relay all)
        self.handoff = Handoff(handoff) if handoff is not None else None
        self.links: dict[str, Link] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, name="rpcdemo-links", daemon=True)

    # -- life ----------------------------------------------------------------------

    def start(self) -> Switchboard:
        """Start the loop; raise OSError if it cannot start."""
        self._thread.start()
        self._ready.result(START_TIMEOUT_S)
        return self

    def close(self) -> None:
        """Close every link; wait for the thread to end."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
            self._thread.join(START_TIMEOUT_S)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set_result(None)
        try:
            await self._stop.wait()
        finally:
            for link in self.links.values():
                await link.close()
            if self.handoff is not None:
                self.handoff.close()

    # -- the supervisor's side -------------------------------------------------------

    def url_for(self, node: str) -> str:
        """``RESONATE_URL`` for ``node``: its link's address (created on first use)."""
        port = self._call(self._ensure(node))
        return f"http://127.0.0.1:{port}"

    def drop(self, node: str) -> None:
        """Close ``node``'s link (its slot was scaled away); nothing if it has none."""
        self._call(self._drop(node))

    def heal_link(self, node: str) -> None:
        """Clear every fault on ``node``'s link (a fault lease ended); nothing if it has none."""

        async def heal() -> None:
            link = self.links.get(node)
            if link is not None:
                link.heal()

        self._call(heal())

    def _call[T](self, coro: Coroutine[Any, Any, T], *, abandon: bool = False,
                 timeout_s: float | None = None) -> T:
        """``coro``'s result from the links' loop; :class:`TimeoutError` after ``timeout_s``
        (:data:`START_TIMEOUT_S` by default). Then, with ``abandon``, a call the loop had not begun
        never runs (a refused fault must not land later); otherwise (a heal, a port)
        it still runs once the loop is free."""
        assert self._loop is not None, "Switchboard.start() first"
        gate = threading.Lock()
        began = abandoned = False

        async def unless_abandoned() -> T:
            nonlocal began
            with gate:
                began = not abandoned
            if not began:
                coro.close()
                raise asyncio.CancelledError
            return await coro

        done = asyncio.run_coroutine_threadsafe(unless_abandoned(), self._loop)
        try:
            return done.result(START_TIMEOUT_S if timeout_s is None else timeout_s)
        except TimeoutError:
            with gate:
                abandoned = abandon and not began
            raise

    async def _ensure(self, node: str) -> int:
        link = self.links.get(node)
        if link is None:
            link = Link(node, self.upstream, handoff=self.handoff)
            await link.start()
            self.links[node] = link
        return link.port

    async def _drop(self, node: str) -> None:
        link = self.links.pop(node, None)
        if link is not None:
            await link.close()

    # -- control requests (on the loop) ----------------------------------------------

    def request(self, op: str, args: Mapping[str, Any],
                timeout_s: float | None = None) -> jsonline.Reply:
        """The answer envelope to one ``links.<op>`` request (from any thread); a refusal
        when the links' loop does not take it up within ``timeout_s`` (default
        :data:`START_TIMEOUT_S`)."""
        wait_s = START_TIMEOUT_S if timeout_s is None else timeout_s
        try:
            statuses = self._call(self._apply(op, args), abandon=True,
                                  timeout_s=wait_s)
            return jsonline.ok([s.to_dict() for s in statuses])
        except RpcdemoError as exc:
            return jsonline.refusal(exc)
        except (TypeError, ValueError) as exc:
            return jsonline.refusal(UsageError(f"bad request: {exc}"))
        except TimeoutError:
            return jsonline.refusal(RpcdemoError(
                f"the links did not answer links.{op} within {wait_s:g}s; "
                "see `rpcdemo net status`"))

    async def _apply(self, op: str, args: Mapping[str, Any]) -> list[LinkStatus]:
        statuses = self.apply(op, args)
        # the cuts in flight (this request's), waited for together and off the loop (a busy
        # server may take a while; each keeps trying on its own thread after this)
        cutting = [link.cutting for link in self.links.values()
                   if link.cutting is not None and not link.cutting.done()]
        if cutting:
            await asyncio.wait([asyncio.wrap_future(f) for f in cutting], timeout=CUT_WAIT_S)
        return statuses

    def apply(self, op: str, args: Mapping[str, Any]) -> list[LinkStatus]:
        """Carry out one request; the statuses of the links it touched (all for status).

        Raises :class:`UsageError` for an unknown op, target or bad value.
        """
        if op == "status":
            return [link.status() for link in self.links.values()]
        chosen = self._chosen(op, args.get("target"))
        if op == "partition":
            for_s = check_seconds("--for", args.get("for_s"))
            for link in chosen:
                link.partition(for_s)
        elif op == "delay":
            delay, jitter = check_delay(args.get("delay_ms", 0), args.get("jitter_ms", 0))
            for link in chosen:
                link.delay(delay, jitter)
        elif op == "reset":
            for link in chosen:
                link.reset()
        elif op == "heal":
            for link in chosen:
                link.heal()
        else:
            raise UsageError(f"unknown links op {op!r}")
        return [link.status() for link in chosen]

    def _chosen(self, op: str, target: Any) -> list[Link]:
        """The links ``target`` names (every link for a bare ``heal``)."""
        if op == "heal" and target is None:
            return list(self.links.values())
        if not isinstance(target, str):
            raise UsageError(f"{op} needs a target")
        return [self.links[n] for n in resolve_target(target, list(self.links))]


def upstream_of(server_url: str) -> tuple[str, int] | None:
    """``(host, port)`` a link forwards to, or None for a URL links cannot front (https)."""
    parts = urlsplit(server_url)
    if parts.scheme != "http" or not parts.hostname:
        return None
    return parts.hostname, parts.port or 80


def start_switchboard(server_url: str, enabled: bool,
                      handoff: Path | None = None) -> Switchboard | None:
    """A started switchboard fronting ``server_url``, or None when links are off or cannot apply.

    ``handoff`` is the server's socket for adopting connections
    (``Backend.handoff_socket``), or None for a server whose links relay everything."""
    upstream = upstream_of(server_url) if enabled else None
    if upstream is None:
        return None
    return Switchboard(upstream, handoff).start()
