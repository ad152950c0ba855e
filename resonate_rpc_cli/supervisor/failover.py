"""Failover faster than the lease: hand a dead node's leases back to its group at once.

When the supervisor has reaped a node's process it knows for certain that the
node's leases are dead. On our embedded server (``GET /rpcdemo/info`` answers)
:class:`HttpLeaseReleaser` then sends ``POST /rpcdemo/release {"pid": node_id}``
so the node's tasks go back to pending and are re-sent to a live member of the
group (or to the next one that connects) instead of waiting for the TTL. On
any other server (the real one, ``--no-extras``) nothing is sent and recovery
stays TTL-bound; that is reported, never an error.

Releases run on one worker thread, in the order asked, so the supervisor's
loop never waits on HTTP; finished ones are collected with
:meth:`HttpLeaseReleaser.outcomes`. The caller must only ask for node ids that
are never reused by a live process (a fresh id per incarnation).
"""

from __future__ import annotations

import json
import os
import queue
import threading
from dataclasses import dataclass

from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.tokens import server_token
from resonate_rpc_cli.contracts.naming import is_postgres_url

#: Set to ``1`` in the supervisor's environment to turn failover off (benchmarks, tests).
ENV_NO_FAILOVER = "RPCDEMO_NO_FAILOVER"


@dataclass(frozen=True)
class ReleaseOutcome:
    """What became of one release: ``released`` task ids, or ``None`` if none was sent."""

    node: str
    node_id: str
    released: tuple[str, ...] | None
    detail: str


class HttpLeaseReleaser:
    """Releases the leases of dead nodes on our embedded server, off the caller's thread."""

    def __init__(self, server_url: str, timeout_s: float = 1.0) -> None:
        self.server_url = server_url.rstrip("/")
        self.timeout_s = timeout_s
        self._extras: bool | None = None  # unknown until asked; a "yes" is kept
        self._todo: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._done: queue.Queue[ReleaseOutcome] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="lease-releaser", daemon=True)
        self._worker.start()

    def release(self, node: str, node_id: str) -> None:
        """Queue the release of every lease ``node_id`` (of ``node``) holds; returns at once."""
        self._todo.put((node, node_id))

    def outcomes(self) -> list[ReleaseOutcome]:
        """The releases finished since the last call, oldest first."""
        out = []
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                return out

    def close(self, timeout_s: float = 2.0) -> None:
        """Finish what is queued (within ``timeout_s``) and stop the worker."""
        self._todo.put(None)
        self._worker.join(timeout_s)

    def release_now(self, node: str, node_id: str) -> ReleaseOutcome:
        """The release itself, on the calling thread (what the worker runs)."""
        if not self._has_extras():
            return ReleaseOutcome(node, node_id, None,
                                  "server has no release extra; leases lapse after the TTL")
        body = json.dumps({"pid": node_id}).encode()
        try:
            status, raw = self._http("POST", "/rpcdemo/release", body)
        except OSError as exc:
            return ReleaseOutcome(node, node_id, None,
                                  f"release failed ({exc}); leases lapse after the TTL")
        if status == 404:
            self._extras = None  # the server changed under us; ask again next time
        if status != 200:
            return ReleaseOutcome(node, node_id, None,
                                  f"release answered {status}; leases lapse after the TTL")
        try:
            released = json.loads(raw)["released"]
            ids = tuple(str(t) for t in released)
        except (ValueError, KeyError, TypeError):
            return ReleaseOutcome(node, node_id, None, "release answered nonsense")
        return ReleaseOutcome(node, node_id, ids,
                              f"{len(ids)} lease(s) of {node_id} back to the group")

    def _has_extras(self) -> bool:
        if self._extras:
            return True
        try:
            status, raw = self._http("GET", "/rpcdemo/info", None)
            info = json.loads(raw) if status == 200 else None
        except (OSError, ValueError):
            return False  # unreachable now: ask again next time
        self._extras = isinstance(info, dict) and info.get("kind") == "embedded"
        return self._extras

    def _http(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        return exchange(method, self.server_url + path, body, self.timeout_s,
                        server_token(self.server_url))

    def _run(self) -> None:
        said = ""
        while True:
            item = self._todo.get()
            if item is None:
                return
            outcome = self.release_now(*item)
            if outcome.released is None and outcome.detail != said:
                said = outcome.detail  # once per kind of failure, in the supervisor's log
                print(f"failover: {outcome.node}: {outcome.detail}", flush=True)
            self._done.put(outcome)


def make_releaser(server_url: str) -> HttpLeaseReleaser | None:
    """The supervisor's releaser for ``server_url``; ``None`` when failover is switched off.

    On resonate-pg (a ``postgresql://`` URL) it releases through SQL
    (``postgres/release.py``), everywhere else through our server's extra.

    ``RPCDEMO_NO_FAILOVER=1`` in the environment turns it off (leases then
    lapse after their TTL, as on a server without the extra).
    """
    if os.environ.get(ENV_NO_FAILOVER) == "1":
        return None
    if is_postgres_url(server_url):
        from resonate_rpc_cli.postgres.release import PgLeaseReleaser  # noqa: PLC0415 (psycopg is slow to import)

        return PgLeaseReleaser(server_url)
    return HttpLeaseReleaser(server_url)
