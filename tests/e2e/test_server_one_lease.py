"""One lease per acquire: a process handed two ``execute`` messages for one task runs it once.

A chaos run saw one SDK process run a completed step twice, 40 ms apart: it had
received two ``execute`` messages for one task and the server granted both
acquires (same pid, same version). Here a real worker (the SDK) reaches the real
server through a proxy that delivers every ``execute`` pushed on ``GET /poll``
twice, back to back; every task must still run exactly once, because the
second acquire is refused (409) as Resonate refuses it.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.server.executes import RESEND_AFTER_S
from tests.e2e._server_support import (
    assert_no_leftovers,
    client_result,
    executions,
    info,
    start_client,
    start_server,
    start_worker,
    wait_listeners,
)
from tests.procs import ProcGroup, wait_until
from tests.protocol.stream import Stream

pytestmark = pytest.mark.e2e


@contextmanager
def doubling_proxy(upstream: str) -> Iterator[tuple[str, Counter[str]]]:
    """A loopback proxy to ``upstream`` that pushes every ``execute`` message twice.

    Yields its URL and a counter of the execute events it doubled.
    """
    doubled: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            req = urllib.request.Request(upstream + self.path, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    status, raw = resp.status, resp.read()
            except urllib.error.HTTPError as exc:
                status, raw = exc.code, exc.read()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            with urllib.request.urlopen(upstream + self.path, timeout=300) as resp:
                self.send_response(resp.status)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                event: list[bytes] = []
                try:
                    for line in resp:
                        event.append(line)
                        if line.strip():
                            continue
                        chunk = b"".join(event)
                        event = []
                        if b'"kind":"execute"' in chunk:
                            doubled["execute"] += 1
                            chunk += chunk
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.daemon_threads = True
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}", doubled
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


def test_two_execute_messages_to_one_process_run_the_task_once(
    procs: ProcGroup, tmp_path: Path
) -> None:
    url, server = start_server(procs, tmp_path)
    with doubling_proxy(url) as (proxied, doubled):
        start_worker(procs, tmp_path, proxied, ["service-c"], "w", WORKER_DELAY="0.2")
        wait_listeners(url, {"service-c": ["w-service-c"]})
        calls = {f"baz-{i}": i for i in range(12)}
        result = client_result(start_client(procs, tmp_path, url, "baz", "service-c", calls),
                               60)
        assert result == {"values": calls}
        assert doubled["execute"] >= len(calls), doubled  # the process got each one twice
        per_arg = Counter(e["arg"] for e in executions(tmp_path))
        assert per_arg == Counter(calls.values()), f"each task exactly once; got {per_arg}"
        assert "Traceback" not in server.output()
        assert_no_leftovers(procs, tmp_path)


def test_a_reconnecting_process_is_not_sent_the_same_execute_again(
    procs: ProcGroup, tmp_path: Path
) -> None:
    """The server re-sends ``execute`` for pending tasks when a member connects; the
    process it already went to, reconnecting (a recycled stream), must not get it twice.
    Another process still does, and the message has the Rust server's shape."""
    url, _ = start_server(procs, tmp_path)
    client = ResonateClient(url)
    first = Stream(url, "g", "p1")
    wait_listeners(url, {"g": ["p1"]})
    client.request("promise.create", {"id": "t1", "timeoutAt": 4_000_000_000_000, "param": {},
                                      "tags": {"resonate:target": "poll://any@g"}})
    sent_at = time.monotonic()
    assert first.next(5) == {"kind": "execute", "head": {"serverUrl": url},
                             "data": {"task": {"id": "t1", "version": 0}}}
    first.close()
    wait_until(lambda: "g" not in info(url)["listeners"], 10, "the first stream to close")
    # Past the 1 s in which any member is spared a re-send: only the same-process rule holds.
    wait_until(lambda: time.monotonic() - sent_at > RESEND_AFTER_S + 0.2, 5, "1.2 s to pass")
    again = Stream(url, "g", "p1")
    try:
        assert again.next(2.0) is None, "the same process got the same execute twice"
    finally:
        again.close()
    other = Stream(url, "g", "p2")
    try:
        msg = other.next(5)
        assert msg is not None and msg["data"]["task"] == {"id": "t1", "version": 0}, msg
    finally:
        other.close()
    assert_no_leftovers(procs, tmp_path)
