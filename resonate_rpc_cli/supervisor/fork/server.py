"""A fork server: start nodes by forking a process that has already imported the SDK.

Starting a node costs ~0.5 s, nearly all of it importing ``resonate`` and its
dependencies. The fork server is a dedicated, single-threaded process that
imports them once (``--preload``) and then forks one child per request, so a
node is listening within milliseconds. It is never the supervisor itself: the
supervisor has threads, and forking a threaded process is unsafe.

Protocol: one client connects to the Unix socket ``--socket`` and exchanges
JSON lines.

* request ``{"op": "spawn", "id": N, "module": M, "env": {...}, "log": PATH,
  "cwd": PATH|null}`` → reply ``{"id": N, "pid": P}`` or ``{"id": N, "error": E}``.
  The child starts a new session (its own process group, like
  ``start_new_session=True``), writes stdout and stderr to ``log``, replaces its
  environment with ``env`` (``RPCDEMO_PARENT_PID`` set to the fork server) and
  runs ``M`` as ``__main__``.
* event ``{"event": "exited", "pid": P, "returncode": R}`` when a child ends
  (the fork server reaps it; ``R`` is negative for a signal, like ``Popen``).

The fork server exits, after killing its children's groups, when its parent
dies or its client disconnects: it never outlives the supervisor.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from typing import TypedDict

from resonate_rpc_cli.contracts.lifeline import ENV_PARENT_PID

#: What a service node imports; preloading these is what makes a fork cheap.
DEFAULT_PRELOAD = (
    "resonate.resonate",
    "resonate.context",
    "resonate.handle",
    "aiohttp",
    "msgspec",
    "services.node",
    "flask",
    "werkzeug.serving",
    "services.gateway_app",
)
#: A backend adds its nodes' own modules (``Backend.preload``, e.g. resonate-pg's connector).


class Message(TypedDict, total=False):
    """A line from the fork server: a spawn's reply (``id`` with ``pid`` or ``error``) or
    an ``exited`` event (``pid``, ``returncode``)."""

    id: object
    pid: int
    error: str
    event: str
    returncode: int


@dataclass(frozen=True, slots=True)
class Spawn:
    """A spawn request, parsed from its line (see the module docstring)."""

    id: object
    module: str
    env: dict[str, str]
    log: str
    cwd: str | None

    @classmethod
    def parse(cls, obj: dict[str, object]) -> Spawn:
        """The request in ``obj``; ValueError unless it is a spawn with a module and a log."""
        module, log, env, cwd = obj.get("module"), obj.get("log"), obj.get("env"), obj.get("cwd")
        if obj.get("op") != "spawn" or not isinstance(module, str) or not isinstance(log, str):
            raise ValueError(f"bad request: {obj!r}"[:300])
        return cls(obj.get("id"), module,
                   {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {},
                   log, str(cwd) if cwd else None)


def _returncode(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _set_process_name(name: str) -> None:
    """Name the forked process for ``ps -o comm``/``top`` (Linux; else nothing).

    A forked node keeps the fork server's command line; its short name at least
    says which node it is.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_name = 15
        libc.prctl(pr_set_name, name.encode()[:15], 0, 0, 0)


def _run_child(
    request: Spawn, closing: list[socket.socket], parent: int, in_session_fd: int
) -> None:
    """In the forked child: detach, redirect, set the environment, run the module.

    Writes one byte to ``in_session_fd`` once it leads its own session, so the
    fork server replies with the pid only when ``killpg(pid)`` reaches it.
    Never returns: always ends with ``os._exit``.
    """
    code = 1
    try:
        for sock in closing:
            with contextlib.suppress(OSError):
                sock.close()
        os.setsid()
        os.write(in_session_fd, b"1")
        os.close(in_session_fd)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        # as a fresh interpreter has it: a peer gone mid-write is EPIPE, not death
        # (with SIG_DFL a gateway died of SIGPIPE when a client was killed mid-request)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.set_wakeup_fd(-1)
        fd = os.open(request.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(devnull)
        env = {**request.env, ENV_PARENT_PID: str(parent)}
        os.environ.clear()
        os.environ.update(env)
        if request.cwd:
            os.chdir(request.cwd)
        sys.argv = [request.module]
        _set_process_name(env.get("RPCDEMO_NODE_NAME") or request.module)
        runpy.run_module(request.module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class ForkServer:
    """The fork server's loop: accept one client, fork on request, report exits."""

    def __init__(self, sock_path: str, parent_pid: int) -> None:
        self.parent_pid = parent_pid
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sock_path)
        self.listener.bind(sock_path)
        os.chmod(sock_path, 0o600)
        self.listener.listen(1)
        self.client: socket.socket | None = None
        self.buffer = b""
        self.children: set[int] = set()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: None)
        self.stopping = False
        self.selector = selectors.DefaultSelector()

    def send(self, obj: Message) -> None:
        if self.client is None:
            return
        try:
            self.client.sendall((json.dumps(obj) + "\n").encode())
        except OSError:
            self.stopping = True

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.send({"event": "exited", "pid": pid, "returncode": _returncode(status)})

    def spawn(self, obj: dict[str, object]) -> None:
        rid = obj.get("id")
        try:
            request = Spawn.parse(obj)
        except ValueError as exc:
            self.send({"id": rid, "error": str(exc)})
            return
        closing = [s for s in (self.listener, self.client) if s is not None]
        parent = os.getpid()
        session_r, session_w = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(session_r)
            os.close(session_w)
            self.send({"id": rid, "error": f"fork failed: {exc}"})
            return
        if pid == 0:
            self.selector.close()
            os.close(self.wake_r)
            os.close(self.wake_w)
            os.close(session_r)
            _run_child(request, closing, parent, session_w)
        os.close(session_w)
        self.children.add(pid)
        try:
            # EOF without the byte: the child died before setsid (it is reaped below)
            os.read(session_r, 1)
        finally:
            os.close(session_r)
        self.send({"id": rid, "pid": pid})

    def handle_client_data(self) -> None:
        assert self.client is not None
        try:
            chunk = self.client.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.stopping = True
            return
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                request = json.loads(line)
            except ValueError:
                self.send({"error": "invalid JSON"})
                continue
            if isinstance(request, dict):
                self.spawn(request)

    def serve(self) -> int:
        sel = self.selector
        sel.register(self.listener, selectors.EVENT_READ, "accept")
        sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        while not self.stopping:
            for key, _ in sel.select(timeout=0.2):
                if key.data == "accept":
                    conn, _ = self.listener.accept()
                    if self.client is not None:
                        conn.close()
                        continue
                    self.client = conn
                    sel.register(conn, selectors.EVENT_READ, "client")
                elif key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        data = os.read(self.wake_r, 4096)
                        if signal.SIGTERM in data:
                            self.stopping = True
                    self.reap()
                elif key.data == "client":
                    self.handle_client_data()
            if os.getppid() != self.parent_pid:
                self.stopping = True
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        """TERM every child's group, then KILL what is left after a grace period."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in list(self.children):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, sig)
            if sig == signal.SIGTERM:
                deadline = time.monotonic() + 2.0
                while self.children and time.monotonic() < deadline:
                    self.reap()
                    time.sleep(0.02)
        self.reap()


def preload(modules: list[str]) -> list[str]:
    """Import ``modules``; return one line per module that failed (a fork then imports it)."""
    failed = []
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # a missing optional module only costs speed
            failed.append(f"{module}: {type(exc).__name__}: {exc}")
    gc.collect()
    gc.freeze()  # keep the preloaded heap out of the children's collections (copy-on-write)
    return failed


def main(argv: list[str] | None = None) -> int:
    """Run the fork server; exit 3 at once if ``--parent-pid`` is not our parent."""
    parser = argparse.ArgumentParser(prog="rpcdemo-forkserver")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--preload", default=",".join(DEFAULT_PRELOAD))
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process is no longer our parent (default: ours)")
    args = parser.parse_args(argv)
    parent = args.parent_pid if args.parent_pid is not None else os.getppid()
    if os.getppid() != parent:
        print(f"forkserver: parent {parent} is already gone", file=sys.stderr, flush=True)
        return 3
    for line in preload([m for m in args.preload.split(",") if m]):
        print(f"forkserver: preload failed, children import it themselves: {line}", flush=True)
    server = ForkServer(args.socket, parent)
    print(f"forkserver ready on {args.socket}", flush=True)
    return server.serve()


if __name__ == "__main__":
    sys.exit(main())
