"""resonate-pg behind HTTP for the conformance suite: ``POST /`` → ``resonate.resonate_rpc``.

:func:`adapter` starts a PostgreSQL cluster under the test's HOME with the
given ``resonate.sql`` (``python -m resonate_rpc_cli.postgres.serve``, the
same server slot ``up --server postgres`` uses: initdb as the ``postgres``
user when root, schema applied once), then serves the protocol's envelope on
a loopback port from a thread: one connection, one request at a time, the
function's envelope answered (HTTP status = its ``head.status``) with its
records in the Rust server's shapes: resonate-pg writes ``null`` for the
optional fields the Rust server omits (``settledAt``, ``lastRunAt``, a value's
``data``), and the adapter omits them as the Rust server does, with
:func:`resonate_rpc_cli.server.wire.shape_data`, the embedded server's own
shaping (docs/protocol-differences.md). Nothing else is changed.
Everything is stopped at exit; the cluster's processes go with their group.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from resonate_rpc_cli.postgres.cluster import Cluster
from resonate_rpc_cli.postgres.db import schema_answers
from resonate_rpc_cli.server.wire import shape_data
from tests.procs import PYTHON, ProcGroup, free_port, spawn, wait_until

RPC = "SELECT resonate.resonate_rpc(%s)"


@contextmanager
def adapter(home: Path, sql: Path) -> Iterator[str]:
    """Yield the URL of resonate-pg (schema ``sql``) behind our HTTP adapter."""
    port = free_port()
    home.mkdir(mode=0o700, exist_ok=True)
    procs = ProcGroup()
    try:
        proc = procs.add(spawn(
            [PYTHON, "-m", "resonate_rpc_cli.postgres.serve", "--home", str(home),
             "--port", str(port), "--schema", str(sql)],
            home / "postgres.log", env={"RPCDEMO_HOME": str(home)}, name="postgres"))
        cluster = Cluster(home, "127.0.0.1", port)
        wait_until(lambda: schema_answers(cluster.url) or (
            not proc.alive() and proc.output()[-500:]), 120, "resonate-pg")
        assert proc.alive(), f"resonate-pg exited: {proc.output()[-1500:]}"
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(conn, threading.Lock()))
            thread = threading.Thread(target=http.serve_forever, daemon=True)
            thread.start()
            try:
                yield f"http://127.0.0.1:{http.server_port}"
            finally:
                http.shutdown()
                http.server_close()
                thread.join(5)
    finally:
        procs.close()


def _handler(conn: psycopg.Connection[Any], lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            req = json.loads(body)
            with lock:
                row = conn.execute(RPC, (Jsonb(req),)).fetchone()
            envelope = _shaped(row[0] if row else {}, req)
            self._answer(int(envelope.get("head", {}).get("status", 500)), envelope)

        def do_GET(self) -> None:
            self._answer(200, {"status": "ok"})

        def _answer(self, status: int, obj: Any) -> None:
            raw = json.dumps(obj).encode()
            self.send_response(status if 200 <= status < 600 else 500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler


def _shaped(envelope: Any, req: Any) -> Any:
    """resonate-pg's envelope with its success data's records in the Rust shapes."""
    head = envelope.get("head") if isinstance(envelope, dict) else None
    data = envelope.get("data") if isinstance(envelope, dict) else None
    if not isinstance(head, dict) or not isinstance(data, dict) or head.get("status", 500) >= 400:
        return envelope
    action = req.get("data", {}).get("action") if isinstance(req, dict) else None
    kind = str(envelope.get("kind"))
    action_kind = action.get("kind") if isinstance(action, dict) else None
    return {**envelope, "data": shape_data(kind, data, head.get("corrId"), action_kind)}
