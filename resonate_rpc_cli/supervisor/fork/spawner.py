"""Spawning nodes through the fork server, with the plain spawner as fallback.

A node started with ``python -m`` spends ~0.5 s importing the SDK; a fork of
the fork server (:mod:`resonate_rpc_cli.supervisor.fork.server`), which has imported it
already, is listening within milliseconds. :class:`ForkSpawner` forks service
and gateway nodes that way and starts everything else (the server) with the
plain :class:`~resonate_rpc_cli.supervisor.processes.PopenSpawner`. It also falls back to the plain
spawner, one spawn at a time and without raising, when fork is unavailable
(not Linux/macOS), when the fork server is not up yet after ``wait_s``, has
died, or refuses a request; a fork server that died is started again in the
background (at most ``max_starts`` times in all).

``RPCDEMO_SPAWN=plain`` in the supervisor's environment turns forking off
(benchmarks' "before", debugging).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.lifeline import ENV_PARENT_PID
from resonate_rpc_cli.contracts.naming import ENV_HOME, SERVER
from resonate_rpc_cli.supervisor.fork.client import ForkClient, ForkServerError
from resonate_rpc_cli.supervisor.fork.server import DEFAULT_PRELOAD
from resonate_rpc_cli.supervisor.node import ProcessHandle, Spawner
from resonate_rpc_cli.supervisor.processes import PopenSpawner, child_env, prepare
from resonate_rpc_cli.supervisor.topology_config import LaunchSpec

ENV_SPAWN = "RPCDEMO_SPAWN"


class ForkClientLike(Protocol):
    """What :class:`ForkSpawner` needs of the fork server client (``fork.client.ForkClient``)."""

    @property
    def alive(self) -> bool: ...

    def spawn(
        self, module: str, env: Mapping[str, str], log: Path, cwd: str | None = None,
        timeout_s: float = 10.0,
    ) -> ProcessHandle: ...

    def close(self, grace_s: float = 3.0) -> None: ...


def fork_available() -> bool:
    """Whether this platform can fork a preloaded interpreter safely (Linux, macOS)."""
    return hasattr(os, "fork") and sys.platform.startswith(("linux", "darwin"))


def forkable_module(spec: LaunchSpec) -> str | None:
    """The module a fork would run for ``spec`` (``python -m M`` of a node), else None."""
    argv = spec.argv
    if spec.group == SERVER or len(argv) != 3 or argv[0] != sys.executable or argv[1] != "-m":
        return None
    return argv[2]


class ForkSpawner:
    """Forks nodes through a fork server started in the background; plain spawn otherwise."""

    def __init__(
        self, start_client: Callable[[], ForkClientLike], fallback: Spawner, *,
        wait_s: float = 5.0, max_starts: int = 3, say: Callable[[str], None] = print,
        spawn_timeout_s: float = 3.0,
    ) -> None:
        """``start_client`` starts a fork server (run at once, on a thread); ``fallback``
        starts what cannot be forked; the first spawn waits ``wait_s`` for the fork server,
        a fork that is not answered within ``spawn_timeout_s`` is started plainly instead.
        """
        self._start_client = start_client
        self.fallback = fallback
        self.wait_s = wait_s
        self.spawn_timeout_s = spawn_timeout_s
        self.max_starts = max_starts
        self.say = say
        self.forked = 0
        self.fell_back = 0
        self.last_reason = ""
        self._lock = threading.Lock()
        self._client: ForkClientLike | None = None
        self._ready = threading.Event()
        self._starts = 0
        self._ever_ready = False
        self._closed = False
        self._begin()

    # -- the fork server's life ----------------------------------------------------

    def _begin(self) -> None:
        if self._starts >= self.max_starts:
            return
        self._starts += 1
        self._ready.clear()
        threading.Thread(target=self._run_start, name="forkserver-start", daemon=True).start()

    def _run_start(self) -> None:
        client: ForkClientLike | None
        try:
            client = self._start_client()
        except (ForkServerError, OSError) as exc:
            self._note(f"fork server did not start: {exc}")
            client = None
        with self._lock:
            if self._closed and client is not None:
                client.close()
                client = None
            self._client = client
        self._ready.set()

    def _usable_client(self) -> ForkClientLike | None:
        # Wait for the first start only (nodes start right after it at `up`);
        # a restart after a death never holds the supervisor's loop.
        wait = 0.0 if self._ever_ready else self.wait_s
        if not self._ready.wait(wait):
            self._note(f"fork server not ready after {wait:g}s")
            return None
        self._ever_ready = True
        with self._lock:
            client = self._client
        if client is None:
            return None
        if not client.alive:
            self._note("fork server died; starting another")
            self._drop(client)
            return None
        return client

    def _drop(self, client: ForkClientLike) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
        client.close()
        if not self._closed:
            self._begin()

    def _note(self, reason: str) -> None:
        if reason != self.last_reason:
            self.say(f"spawner: {reason}; nodes start the plain way meanwhile")
        self.last_reason = reason

    # -- Spawner ---------------------------------------------------------------------

    def spawn(self, spec: LaunchSpec) -> ProcessHandle:
        """Fork ``spec`` if it is a node and the fork server is usable; else spawn it plainly.

        Raises OSError only when the plain spawn itself fails.
        """
        module = forkable_module(spec)
        if module is None:
            return self.fallback.spawn(spec)
        client = self._usable_client()
        if client is None:
            self.fell_back += 1
            return self.fallback.spawn(spec)
        prepare(spec)
        try:
            handle = client.spawn(module, child_env(spec), spec.log, timeout_s=self.spawn_timeout_s)
        except ForkServerError as exc:
            self._note(f"fork server refused {spec.name}: {exc}")
            if not client.alive:
                self._drop(client)
            self.fell_back += 1
            return self.fallback.spawn(spec)
        self.forked += 1
        return handle

    def close(self) -> None:
        """Stop the fork server (and so any child it still has); waits for a start underway."""
        self._ready.wait(self.wait_s)
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.close()


def make_spawner(home: Home, preload: tuple[str, ...] = ()) -> Spawner:
    """The daemon's spawner: :class:`ForkSpawner` unless fork is off or unavailable.

    The fork server also imports ``preload`` (the backend's modules beyond the
    SDK's, e.g. resonate-pg's connector: psycopg is slow to import).
    """
    plain = PopenSpawner()
    if os.environ.get(ENV_SPAWN, "fork") == "plain" or not fork_available():
        return plain
    env = {k: v for k, v in os.environ.items() if k != "RPCDEMO_SUPERVISOR"}
    env[ENV_PARENT_PID] = str(os.getpid())
    env[ENV_HOME] = str(home.root)  # so stale-state cleanup and orphan checks find it
    sock = home.run_dir / "fork.sock"
    log = home.logs_dir / "forkserver.log"
    modules = ",".join((*DEFAULT_PRELOAD, *preload)) if preload else None
    return ForkSpawner(lambda: ForkClient(sock, log, env, preload=modules), plain)
