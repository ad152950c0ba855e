"""The supervisor's side of the fork server: start it, ask it to fork nodes, see them exit.

:class:`ForkClient` starts ``python -m resonate_rpc_cli.supervisor.fork.server`` in its own
session, connects to its socket, and turns ``spawn`` requests into
:class:`ForkedProcess` handles whose :meth:`~ForkedProcess.poll` reports the
exit code once the fork server has reaped the child. A reader thread collects
replies and exit events. If the fork server dies, every handle still running
is reported as exited with :data:`LOST` so the supervisor restarts it the
plain way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from resonate_rpc_cli.supervisor.fork.server import Message

#: Exit code reported for a child whose fork server vanished before it did.
LOST = -1000


class ForkServerError(Exception):
    """The fork server could not be started or refused a request."""


class ForkedProcess:
    """A child of the fork server, as seen by the supervisor (``Popen``-like)."""

    def __init__(self, pid: int, client: ForkClient) -> None:
        self._pid = pid
        self._client = client

    @property
    def pid(self) -> int:
        return self._pid

    def poll(self) -> int | None:
        return self._client.returncode(self._pid)


class ForkClient:
    """Owns one fork server process and the connection to it."""

    def __init__(
        self,
        sock_path: Path,
        log: Path,
        env: Mapping[str, str] | None = None,
        preload: str | None = None,
        start_timeout_s: float = 15.0,
    ) -> None:
        """Start the fork server and connect; raise :class:`ForkServerError` on failure.

        ``env`` is the fork server's whole environment (default: ours); its
        children get the environment of each request instead.
        """
        self.sock_path = sock_path
        argv = [sys.executable, "-m", "resonate_rpc_cli.supervisor.fork.server",
                "--socket", str(sock_path), "--parent-pid", str(os.getpid())]
        if preload is not None:
            argv += ["--preload", preload]
        full_env = dict(os.environ if env is None else env)
        log.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            sock_path.unlink()
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=full_env, start_new_session=True,
            )
        self.sock = self._connect(start_timeout_s)
        self._lock = threading.Lock()
        self._replies: dict[int, Message] = {}
        self._reply_ready = threading.Condition(self._lock)
        self._exits: dict[int, int] = {}
        self._live: set[int] = set()
        self._abandoned: set[int] = set()  # request ids whose caller stopped waiting
        self._next_id = 0
        self._dead = False
        self._reader = threading.Thread(target=self._read, name="forkclient", daemon=True)
        self._reader.start()

    def _connect(self, timeout_s: float) -> socket.socket:
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ForkServerError(f"fork server exited with {self.proc.returncode}")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.sock_path))
                return sock
            except OSError as exc:
                sock.close()
                last = exc
                time.sleep(0.01)
        self.close()
        raise ForkServerError(f"fork server did not listen within {timeout_s}s: {last}")

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                with contextlib.suppress(ValueError):
                    msg = json.loads(line)
                    if isinstance(msg, dict):
                        self._dispatch(cast("Message", msg))
        with self._lock:
            self._dead = True
            for pid in self._live:
                self._exits.setdefault(pid, LOST)
            self._live.clear()
            self._reply_ready.notify_all()

    def _dispatch(self, msg: Message) -> None:
        rid, pid = msg.get("id"), msg.get("pid")
        with self._lock:
            if msg.get("event") == "exited":
                self._exits[int(msg["pid"])] = int(msg["returncode"])
                self._live.discard(int(msg["pid"]))
            elif isinstance(rid, int):
                if rid in self._abandoned:
                    # its spawn timed out and was started another way: this
                    # late child would be a second copy of the node
                    self._abandoned.discard(rid)
                    if isinstance(pid, int):
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(pid, signal.SIGKILL)
                    return
                self._replies[rid] = msg
                self._reply_ready.notify_all()

    @property
    def alive(self) -> bool:
        with self._lock:
            return not self._dead and self.proc.poll() is None

    def spawn(
        self, module: str, env: Mapping[str, str], log: Path, cwd: str | None = None,
        timeout_s: float = 10.0,
    ) -> ForkedProcess:
        """Fork a child running ``module`` as ``__main__``; raise ForkServerError on failure."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._dead:
                raise ForkServerError("fork server is gone")
            self._next_id += 1
            rid = self._next_id
            line = json.dumps(
                {"op": "spawn", "id": rid, "module": module, "env": dict(env),
                 "log": str(log), "cwd": cwd}
            )
            try:
                self.sock.sendall(line.encode() + b"\n")
            except OSError as exc:
                raise ForkServerError(f"fork server is gone: {exc}") from exc
            deadline = time.monotonic() + timeout_s
            while rid not in self._replies:
                left = deadline - time.monotonic()
                if self._dead or left <= 0:
                    self._abandoned.add(rid)
                    raise ForkServerError(
                        f"fork server did not answer a spawn request within {timeout_s:g}s")
                self._reply_ready.wait(left)
            reply = self._replies.pop(rid)
            if "pid" not in reply:
                raise ForkServerError(str(reply.get("error", "spawn failed")))
            pid = int(reply["pid"])
            if pid not in self._exits:
                self._live.add(pid)
        return ForkedProcess(pid, self)

    def returncode(self, pid: int) -> int | None:
        with self._lock:
            return self._exits.get(pid)

    def close(self, grace_s: float = 3.0) -> None:
        """Stop the fork server (which stops its children) and reap it."""
        with contextlib.suppress(OSError):
            self.sock.close() if hasattr(self, "sock") else None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace_s + 1.0)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
