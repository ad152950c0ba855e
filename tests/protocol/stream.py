"""A raw ``GET /poll/{group}/{pid}`` listener for tests: the messages it receives, in order."""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
from typing import Any


class Stream:
    """A raw ``GET /poll/{group}/{pid}`` listener: the messages it receives, one at a time."""

    def __init__(self, url: str, group: str, pid: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.conn.request("GET", f"/poll/{group}/{pid}")
        self.resp = self.conn.getresponse()
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError, http.client.HTTPException):
            for line in self.resp:
                if line.startswith(b"data: "):
                    self.messages.put(json.loads(line[6:]))

    def next(self, timeout: float) -> dict[str, Any] | None:
        """The next message within ``timeout`` seconds, or ``None``."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
        self.conn.close()
