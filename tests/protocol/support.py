"""Servers the protocol suite runs against, and one way to talk to them.

* ``memory`` / ``durable``: ``rpcdemo server`` (``python -m resonate_rpc_cli server``)
  as a real process on a free port, in memory or on a SQLite store;
* ``resonate-pg``: Resonate HQ's server as stored procedures, when
  ``RPCDEMO_RESONATE_SQL`` names a ``resonate.sql``: a cluster under the
  test's HOME behind our HTTP adapter (pgadapter.py).

:func:`send` posts one envelope and returns ``(status, data)`` from the
response head, whatever the status, after checking the whole response against
the Rust server's types (schema.py): every response a protocol test receives
is shaped as the Rust server's, or the test fails.
"""

from __future__ import annotations

import itertools
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.procs import PYTHON, ProcGroup, free_port, spawn, wait_until
from tests.protocol import schema

PROTOCOL_VERSION = schema.PROTOCOL_VERSION
MODES = ("memory", "durable", "resonate-pg")
_corr = itertools.count()


def send(url: str, kind: str, data: Any, shape: bool = True) -> tuple[int, Any]:
    """POST one envelope to ``url``; return the head's status and the response ``data``.

    ``shape``: check the response against the Rust types (schema.py); only a
    case whose difference on resonate-pg is documented (pg_differences.py) skips it.
    """
    body = {"kind": kind, "head": {"corrId": f"c{next(_corr)}", "version": PROTOCOL_VERSION},
            "data": data}
    req = urllib.request.Request(url + "/", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read()
    obj = json.loads(raw)
    if shape:
        schema.check(obj, kind)
    return int(obj["head"]["status"]), obj.get("data")


@contextmanager
def embedded(home: Path, durable: bool) -> Iterator[str]:
    """``rpcdemo server`` on a free port (memory or ``home/store.sqlite``); yield its URL."""
    port = free_port()
    store = ["--store", str(home / "store.sqlite")] if durable else ["--memory"]
    procs = ProcGroup()
    try:
        proc = procs.add(spawn(
            [PYTHON, "-m", "resonate_rpc_cli", "server", "--port", str(port), *store],
            home / "server.log", env={"RPCDEMO_HOME": str(home)}, name="server"))
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(url) or (not proc.alive() and proc.output()[-500:]), 20,
                   f"rpcdemo server on {url}")
        yield url
    finally:
        procs.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def resonate_sql() -> Path | None:
    """The ``resonate.sql`` named by ``RPCDEMO_RESONATE_SQL``, if any."""
    value = os.environ.get("RPCDEMO_RESONATE_SQL")
    return Path(value) if value else None
