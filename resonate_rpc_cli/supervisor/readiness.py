"""When a node of a declared group is ready: its listener, a log line, an HTTP probe, a delay.

``listener`` (the default) reads the embedded server's ``GET /rpcdemo/info``, whose
``listeners`` lists the Resonate ids (pids) with a connected SSE listener per group.
An application that knows nothing of rpcdemo picks its own id, so a starting node is
ready once its group lists an id no node has claimed before: the node claims it, and
the supervisor keeps it as the node's id, so the node's leases are released at once
when it dies (``failover.py``). The claim is only trusted when it cannot be another
node's (one new id, one node of the group waiting: the supervisor starts such a group's nodes one
after another); otherwise the node is ready but its id stays unknown and a dead node's
leases lapse after their TTL instead. A node
whose listener uses the id rpcdemo gave it (``RPCDEMO_NODE_ID``, as our own services
do) is matched exactly. On a server without the extras (``resonate``, a server
elsewhere) a listener readiness is a node alive for :data:`NO_INFO_DELAY_S`.

``log:REGEX``: a line of the incarnation's log matches; ``http:URL``: ``GET URL``
answers 200; ``delay:2s``: two seconds after the start.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from resonate_rpc_cli.clients.http import http_ok
from resonate_rpc_cli.contracts.app_topology import DELAY, HTTP, LOG
from resonate_rpc_cli.supervisor.topology_config import LaunchSpec

#: a listener readiness on a server that does not say who listens
NO_INFO_DELAY_S = 2.0
#: how long one read of the server's listeners serves every probe
INFO_TTL_S = 0.15
#: a node waiting longer than this is forgotten by the claim rule
WAITING_FORGET_S = 120.0

ListenerReader = Callable[[], dict[str, list[str]] | None]


def server_listeners(server_url: str) -> ListenerReader:
    """A reader of ``/rpcdemo/info``'s listeners at ``server_url`` (None: no extras)."""
    from resonate_rpc_cli.clients.protocol import ResonateClient  # noqa: PLC0415 (lazy)

    def read() -> dict[str, list[str]] | None:
        info = ResonateClient(server_url, timeout_s=0.5).info()
        listeners = info.get("listeners") if info is not None else None
        if not isinstance(listeners, dict):
            return None
        return {str(g): [str(p) for p in pids] for g, pids in listeners.items()
                if isinstance(pids, list)}

    return read


def log_matches(log: Path, pattern: str) -> bool:
    """Whether a line of ``log`` matches ``pattern`` (``re.search``)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    rule = re.compile(pattern)
    return any(rule.search(line) for line in text.splitlines())


@dataclass
class DeclaredReadiness:
    """The readiness of declared groups' nodes; one per supervisor (it holds the claims)."""

    listeners: ListenerReader
    clock: Callable[[], float] = time.monotonic
    http: Callable[[str], bool] = http_ok
    #: listener id -> the node (``name#incarnation``) that claimed it; never claimed again
    claimed: dict[str, str] = field(default_factory=dict)
    #: ``name#incarnation`` -> first probe time (the start, within a loop pass)
    started: dict[str, float] = field(default_factory=dict)
    #: ids that were new while several nodes of their group waited: whoever claims one
    #: cannot be sure it is its own
    doubtful: set[str] = field(default_factory=set)
    _cache: tuple[float, dict[str, list[str]] | None] | None = None

    def ready(self, spec: LaunchSpec) -> bool | str:
        """Whether ``spec``'s incarnation is ready; a listener readiness that identified the
        node's Resonate id answers that id."""
        key = f"{spec.name}#{spec.incarnation}"
        now = self.clock()
        start = self.started.setdefault(key, now)
        ready = spec.ready
        assert ready is not None, "a seed node: the ready file's probe"
        if ready.kind == DELAY:
            done: bool | str = now - start >= ready.delay_s
        elif ready.kind == HTTP:
            done = self.http(ready.url)
        elif ready.kind == LOG:
            done = log_matches(spec.log, ready.pattern)
        else:
            done = self._listener(spec, key, now - start)
        if done:
            self.started.pop(key, None)
        return done

    def _read(self) -> dict[str, list[str]] | None:
        now = self.clock()
        if self._cache is None or now - self._cache[0] > INFO_TTL_S:
            self._cache = (now, self.listeners())
        return self._cache[1]

    def _listener(self, spec: LaunchSpec, key: str, waited: float) -> bool | str:
        listeners = self._read()
        if listeners is None:
            return waited >= NO_INFO_DELAY_S
        ids = listeners.get(spec.group, [])
        if spec.node_id and spec.node_id in ids:
            self.claimed[spec.node_id] = key
            return spec.node_id
        fresh = [i for i in ids if i not in self.claimed]
        if not fresh:
            return False
        self.claimed[fresh[0]] = key
        now = self.clock()
        waiting = [k for k, t in self.started.items() if k != key
                   and k.rpartition("#")[0].rpartition("-")[0] == spec.group
                   and now - t < WAITING_FORGET_S]
        if len(fresh) > 1 or waiting:
            self.doubtful.update(fresh)
        return True if fresh[0] in self.doubtful else fresh[0]
