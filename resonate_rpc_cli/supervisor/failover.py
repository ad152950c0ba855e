"""Failover faster than the lease: hand a dead node's leases back to its group at once.

When the supervisor has reaped a node's process it knows for certain that the
node's leases are dead. :class:`ReleaseWorker` then runs the backend's release
(``Backend.releaser``, see ``backends/``): on our embedded server
``POST /rpcdemo/release``, on resonate-pg ``task.release`` in SQL, so the
node's tasks go back to pending and are re-sent to a live member of the group
(or to the next one that connects) instead of waiting for the TTL. On any
other server (the real one, ``--no-extras``) nothing is sent and recovery
stays TTL-bound; that is reported, never an error.

Releases run on one worker thread, in the order asked, so the supervisor's
loop never waits on the server; finished ones are collected with
:meth:`ReleaseWorker.outcomes`. The caller must only ask for node ids that
are never reused by a live process (a fresh id per incarnation).
"""

from __future__ import annotations

import os
import queue
import threading

from resonate_rpc_cli.backends import Backend, ReleaseOutcome
from resonate_rpc_cli.backends.base import Release

__all__ = ["ENV_NO_FAILOVER", "ReleaseOutcome", "ReleaseWorker", "make_releaser"]

#: Set to ``1`` in the supervisor's environment to turn failover off (benchmarks, tests).
ENV_NO_FAILOVER = "RPCDEMO_NO_FAILOVER"


class ReleaseWorker:
    """Runs ``release`` for the leases of dead nodes, off the caller's thread."""

    def __init__(self, release: Release) -> None:
        self.release_now = release
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


def make_releaser(backend: Backend, server_url: str) -> ReleaseWorker | None:
    """The supervisor's releaser of ``backend``'s leases; ``None`` when failover is off.

    ``RPCDEMO_NO_FAILOVER=1`` in the environment turns it off (leases then
    lapse after their TTL, as on a server without the extra).
    """
    if os.environ.get(ENV_NO_FAILOVER) == "1":
        return None
    return ReleaseWorker(backend.releaser(server_url))
