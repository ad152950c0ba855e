"""``LinkClient``: break and heal a running topology's links (``rpcdemo net``, chaos).

Talks to the supervisor's link switchboard (see :mod:`.switchboard`) through the daemon's one
control socket (``links.*`` ops, ``clients/jsonline.py``). Every method
returns the :class:`LinkStatus` of the links it touched (``status``: all) and
raises :class:`~resonate_rpc_cli.contracts.errors.UsageError` (exit 2) for a bad target
or value or a topology running without links, and
:class:`~resonate_rpc_cli.contracts.errors.NotRunningError` (exit 3) when nothing runs.
"""

from __future__ import annotations

from typing import Any

from resonate_rpc_cli.clients import jsonline
from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.status import LinkState, LinkStatus

__all__ = ["LinkClient", "LinkState", "LinkStatus"]



class LinkClient:
    """The links of the topology under ``home``."""

    def __init__(self, home: Home, timeout_s: float = 5.0) -> None:
        self.home = home
        self.timeout_s = timeout_s

    def partition(self, node: str, for_s: float | None = None) -> list[LinkStatus]:
        """Cut ``node``'s link (a node name or a group) both ways; heal after ``for_s``."""
        return self._statuses("partition", target=node, for_s=for_s)

    def delay(self, node: str, delay_ms: float, jitter_ms: float = 0) -> list[LinkStatus]:
        """Delay every chunk on ``node``'s link by ``delay_ms ± jitter_ms``, each way."""
        return self._statuses("delay", target=node, delay_ms=delay_ms, jitter_ms=jitter_ms)

    def reset(self, node: str) -> list[LinkStatus]:
        """Close every open connection on ``node``'s link with an RST."""
        return self._statuses("reset", target=node)

    def heal(self, node: str | None = None) -> list[LinkStatus]:
        """Clear every fault on ``node``'s link, or on every link when None."""
        return self._statuses("heal", target=node)

    def status(self) -> list[LinkStatus]:
        """Every link of the topology, in start order."""
        return self._statuses("status")

    def status_or_none(self) -> list[LinkStatus] | None:
        """Every link, or None when the topology runs without links or they do not answer
        (for views, which must not fail because of links)."""
        try:
            return self.status()
        except RpcdemoError:
            return None

    def _statuses(self, op: str, **args: Any) -> list[LinkStatus]:
        return [LinkStatus.from_dict(d) for d in self._call(op, **args)]

    def _call(self, op: str, **args: Any) -> Any:
        return jsonline.call(self.home, jsonline.LINKS_PREFIX + op, self.timeout_s, **args)
