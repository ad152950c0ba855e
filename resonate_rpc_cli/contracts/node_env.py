"""The node half of the settings table: each topology setting a node reads from its environment.

One :class:`NodeVar` per variable: its name, which nodes get it, how the
supervisor writes a value and how a node reads it back. The supervisor's
settings table (``TopologyConfig``, see ``contracts/settings.py``) points a
setting at its variable; ``services/config.py`` reads the same entries (services
import only ``contracts/``). A read failure is a :class:`NodeEnvError` whose
message names the variable, one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from resonate_rpc_cli.contracts.naming import (
    DEFAULT_DELAY_MODE,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_HOST,
    DELAY_MODES,
    GATEWAY,
)
from resonate_rpc_cli.contracts.record import Record

#: which nodes get a variable
EVERY_NODE, SERVICE_NODES, GATEWAY_NODE = "every node", "service nodes", "the gateway"


class NodeEnvError(ValueError):
    """A node environment variable holds a value the node cannot use."""


class NodeVar(Record):
    """One environment variable of the node contract.

    ``read(text)`` returns the value or raises ``ValueError`` whose message is
    the rule (``"must be > 0 seconds"``); ``write(value)`` is the text to set, or
    ``None`` to leave the variable out.
    """

    name: str
    default: Any
    read_text: Callable[[str], Any]
    write: Callable[[Any], str | None]
    nodes: str = EVERY_NODE

    def reaches(self, group: str) -> bool:
        """Whether a node of ``group`` (gateway or a service group) gets this variable."""
        if self.nodes == GATEWAY_NODE:
            return group == GATEWAY
        return self.nodes == EVERY_NODE or group != GATEWAY

    def read(self, env: Mapping[str, str]) -> Any:
        """The value in ``env`` (unset or blank: the default); :class:`NodeEnvError` if bad."""
        raw = env.get(self.name, "").strip()
        if not raw:
            return self.default
        try:
            return self.read_text(raw)
        except ValueError as exc:
            raise NodeEnvError(f"{self.name} {exc}, got {raw!r}") from None


def _seconds(minimum_exclusive: bool) -> Callable[[str], float]:
    def read(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("must be a number of seconds") from None
        if not math.isfinite(value) or value < 0 or (minimum_exclusive and value == 0):
            raise ValueError(f"must be {'> 0' if minimum_exclusive else '>= 0'} seconds")
        return value

    return read


def _mode(raw: str) -> str:
    if raw not in DELAY_MODES:
        raise ValueError(f"must be one of {', '.join(DELAY_MODES)}")
    return raw


def _port(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 65535:
        raise ValueError("must be a port number 0..65535")
    return int(raw)


def _switch(raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ValueError("must be 0 or 1")
    return raw == "1"


#: lease TTL in seconds (float); a node started by hand defaults to Resonate's 60
TTL = NodeVar("RPCDEMO_TTL", 60.0, _seconds(minimum_exclusive=True), repr)
#: seconds each step takes (float, default 0)
STEP_DELAY = NodeVar("RPCDEMO_STEP_DELAY", 0.0, _seconds(minimum_exclusive=False), repr,
                     SERVICE_NODES)
#: "work" (re-done after a crash) or "sleep" (ctx.sleep)
DELAY_MODE = NodeVar("RPCDEMO_DELAY_MODE", DEFAULT_DELAY_MODE, _mode, str, SERVICE_NODES)
#: "1": each step raises on its first attempt
FAIL_FIRST = NodeVar("RPCDEMO_FAIL_FIRST", False, _switch,
                     lambda on: "1" if on else None, SERVICE_NODES)
#: the gateway's bind address
GATEWAY_HOST = NodeVar("RPCDEMO_GATEWAY_HOST", DEFAULT_HOST, str, str, GATEWAY_NODE)
#: the gateway's port
GATEWAY_PORT = NodeVar("RPCDEMO_GATEWAY_PORT", DEFAULT_GATEWAY_PORT, _port, str, GATEWAY_NODE)
