"""Link faults the operator sets by hand (``rpcdemo net``, the live view's and the console's
keys): the fault on the link, and a fault lease with the supervisor so ``status`` lists it
and ``rpcdemo heal`` (or its deadline) ends it.

Every function returns the :class:`~resonate_rpc_cli.links.status.LinkStatus` of the links it
touched and raises what :class:`~resonate_rpc_cli.links.client.LinkClient` raises: a
:class:`~resonate_rpc_cli.contracts.errors.UsageError` for a bad target or a topology
running without links, :class:`~resonate_rpc_cli.contracts.errors.NotRunningError` when
nothing runs. The lease is best effort: when the supervisor refuses it, the fault stands.
"""

from __future__ import annotations

import contextlib

from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.fault_leases import LINK_FAULTS, MAX_LEASE_S

#: who holds the leases of the faults set by hand (``status`` shows it)
HOLDER = "net"


def hold(home: Home, kind: str, links: list[LinkStatus], for_s: float | None = None
         ) -> list[LinkStatus]:
    """Register the fault ``kind`` on each of ``links`` as a lease the operator holds (the
    supervisor heals it after ``for_s``, or on ``heal``); returns ``links``."""
    client = SupervisorClient(home, timeout_s=5.0)
    for link in links:
        with contextlib.suppress(RpcdemoError):
            client.hold_fault(kind, link.node, for_s or MAX_LEASE_S, holder=HOLDER,
                              holder_pid=None)
    return links


def partition(home: Home, target: str, for_s: float | None = None) -> list[LinkStatus]:
    """Cut ``target``'s link (a node or a group) both ways, healed by itself after ``for_s``."""
    return hold(home, "partition", LinkClient(home).partition(target, for_s), for_s)


def delay(home: Home, target: str, delay_ms: float, jitter_ms: float = 0.0
          ) -> list[LinkStatus]:
    """Delay every byte on ``target``'s link by ``delay_ms`` ± ``jitter_ms`` each way."""
    return hold(home, "delay", LinkClient(home).delay(target, delay_ms, jitter_ms))


def heal(home: Home, target: str | None = None) -> list[LinkStatus]:
    """Clear every fault on ``target``'s link (every link for None) and end their leases."""
    links = LinkClient(home).heal(target)
    with contextlib.suppress(RpcdemoError):  # the link faults are no longer in force
        SupervisorClient(home, timeout_s=5.0).heal(target, kinds=tuple(sorted(LINK_FAULTS)))
    return links
