"""How a chaos run ends early: the :class:`Stopper` and the watch that trips it.

Whatever ends a run before its stop rule — SIGINT, SIGTERM, SIGHUP, a closed
stdout or stderr, an unexpected error, or its topology going away — trips the
run's :class:`Stopper` once, with a reason and the exit code it documents
(``128 + N`` for signal N, 2 for a closed stream (the ``unknown`` verdict's),
3 for a topology gone, the error's own code). The run then stops its
workload, heals what it holds, skips settling, and writes its report with the
verdict ``unknown`` and that reason.

:class:`TopologyWatch` notices a topology that is gone within
:data:`GONE_AFTER_S`: the supervisor does not answer (killed, or ``down``
finished; one whose process still runs, maybe only slow, gets
:data:`SLOW_BOUND_S`), or says it is shutting down (``down`` began), or the server is
unreachable for longer than ``server_bound_s`` while no server fault is in
force. It also notices a stdout or stderr whose reader went away (a pipe
closed by ``head``), by polling their descriptors.
"""

from __future__ import annotations

import contextlib
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

import psutil

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.clients import jsonline
from resonate_rpc_cli.contracts.errors import ExitStatus, RpcdemoError
from resonate_rpc_cli.contracts.home import Home

#: The supervisor silent this long (or shutting down) means the topology is gone.
GONE_AFTER_S = 2.0
POLL_S = 0.5
#: A supervisor process that still runs but does not answer is gone after this long.
SLOW_BOUND_S = 15.0
#: Signals that end a run cleanly (a second one ends the process at once).
END_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopper:
    """Trips once: the first reason and exit code win; ``event`` is set from then on."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason: str | None = None
        self.status: int | None = None
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []

    def trip(self, reason: str, status: int) -> bool:
        """End the run for ``reason``; whether this call was the first."""
        with self._lock:
            if self.reason is not None:
                return False
            self.reason, self.status = reason, int(status)
            hooks = list(self._hooks)
        self.event.set()
        for hook in hooks:
            with contextlib.suppress(Exception):
                hook()
        return True

    def on_trip(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when the stopper trips (at once if it already has)."""
        with self._lock:
            self._hooks.append(hook)
            tripped = self.reason is not None
        if tripped:
            hook()

    @property
    def tripped(self) -> bool:
        return self.event.is_set()


@dataclass(frozen=True)
class RunGuard:
    """What watches one run: its stopper, the HOME whose supervisor must keep answering
    (None: not watched), and the output descriptors whose reader must stay (``(1, 2)``)."""

    stopper: Stopper
    home: Home | None = None
    streams: tuple[int, ...] = ()


def stream_closed(fd: int) -> bool:
    """Whether the reader of ``fd`` went away (a pipe whose other end is closed)."""
    poller = select.poll()
    try:
        poller.register(fd, select.POLLOUT)
        events = poller.poll(0)
    except (OSError, ValueError):
        return True
    return any(ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _fd, ev in events)


class TopologyWatch:
    """A daemon thread tripping ``stopper`` when the topology or the output goes away."""

    def __init__(self, stopper: Stopper, home: Home | None, server_url: str | None, *,
                 server_bound_s: float = 30.0, server_faulted: Callable[[], bool] = bool,
                 streams: tuple[int, ...] = ()) -> None:
        self.stopper = stopper
        self.home = home
        self.server_url = server_url
        self.server_bound_s = server_bound_s
        self.server_faulted = server_faulted
        self.streams = streams
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-watch", daemon=True)

    def __enter__(self) -> TopologyWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        silent_since: float | None = None
        server_down_since: float | None = None
        reader = read_client(self.server_url, timeout_s=1.0) if self.server_url else None
        while not self._done.wait(POLL_S) and not self.stopper.tripped:
            now = time.monotonic()
            for fd, name in ((fd, "stdout" if fd == 1 else "stderr") for fd in self.streams):
                if stream_closed(fd):
                    self.stopper.trip(f"{name} was closed (its reader went away)",
                                      ExitStatus.USAGE)
                    return
            if self.home is not None:
                gone, silent_since = self._supervisor_gone(now, silent_since)
                if gone is not None:
                    self.stopper.trip(gone, ExitStatus.NOT_RUNNING)
                    return
            if reader is not None:
                healthy = self.server_faulted() or reader.healthy()
                server_down_since = None if healthy else (server_down_since or now)
                if server_down_since is not None and \
                        now - server_down_since >= self.server_bound_s:
                    self.stopper.trip(f"the server at {self.server_url} did not answer for "
                                      f"{self.server_bound_s:g} s", ExitStatus.NOT_RUNNING)
                    return

    def _supervisor_gone(self, now: float,
                         silent_since: float | None) -> tuple[str | None, float | None]:
        assert self.home is not None
        try:
            doc = jsonline.call(self.home, "ping", timeout_s=1.0)
        except RpcdemoError:
            silent_since = silent_since or now
            # a supervisor that still runs may only be slow (a loaded machine): longer bound
            bound = SLOW_BOUND_S if _supervisor_runs(self.home) else GONE_AFTER_S
            if now - silent_since >= bound:
                return (f"the topology under {self.home.root} is gone (its supervisor "
                        f"does not answer for {bound:g} s)", silent_since)
            return None, silent_since
        if isinstance(doc, dict) and doc.get("shutting_down"):
            return f"the topology under {self.home.root} is shutting down (rpcdemo down)", None
        return None, None


def _supervisor_runs(home: Home) -> bool:
    """Whether the process in ``run/supervisor.pid`` still runs (not a zombie)."""
    try:
        proc = psutil.Process(int(home.pid_file.read_text().strip()))
        return bool(proc.status() != psutil.STATUS_ZOMBIE) and home.control_socket.exists()
    except (OSError, ValueError, psutil.Error):
        return False


@contextlib.contextmanager
def ending_on_signals(stopper: Stopper) -> Iterator[None]:
    """Inside the block, SIGINT/SIGTERM/SIGHUP trip ``stopper`` (exit 128 + N); a second
    one raises :class:`KeyboardInterrupt` (the supervisor then heals what the run held,
    its holder being gone). Only in the main thread; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not stopper.trip(f"interrupted by {name}", 128 + signum):
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in END_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
