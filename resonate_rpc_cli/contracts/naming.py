"""The shape of a topology: which nodes exist, how they are named and started.

Pure data, no processes: the supervisor turns these specs into processes; the
views and the chaos runner read them. Names are readable and stable within a
run (``server``, ``gateway``, ``service-b-1``); the Resonate node id (a uuid)
of an incarnation is carried beside the name, never instead of it.
"""

from __future__ import annotations

from resonate_rpc_cli.contracts.flows import STEPS
from resonate_rpc_cli.contracts.record import Record

DEFAULT_HOST = "127.0.0.1"
DEFAULT_SERVER_PORT = 8001
DEFAULT_GATEWAY_PORT = 5000

#: The nine service groups, in order, with the module that runs each.
SERVICE_GROUPS: dict[str, str] = {s.group: s.module for s in STEPS.values()}
GATEWAY = "gateway"
SERVER = "server"

#: Environment variables every node understands (the node contract).
ENV_URL = "RESONATE_URL"  # the server's URL: http(s):// or a resonate-pg database
ENV_HOME = "RPCDEMO_HOME"  # absolute path of the topology's home
#: the Unix socket the embedded server adopts links' connections on (server/adopt.py)
ENV_ADOPT_SOCKET = "RPCDEMO_ADOPT_SOCKET"
ENV_NODE_NAME = "RPCDEMO_NODE_NAME"  # readable name, e.g. service-b-1
ENV_NODE = "RPCDEMO_NODE"  # the same, for a declared group's node (docs/own-app.md)
ENV_GROUP = "RPCDEMO_GROUP"  # the node's group
ENV_NODE_ID = "RPCDEMO_NODE_ID"  # Resonate pid of this incarnation (uuid hex)
ENV_LEDGER_DIR = "RPCDEMO_LEDGER_DIR"  # where the node appends its execution ledger
ENV_READY_FILE = "RPCDEMO_READY_FILE"  # written (atomically) once the listener is connected
# the variables of topology settings (TTL, step delay, gateway address, ...): node_env.py
ENV_FAIL_ALWAYS = "RPCDEMO_FAIL_ALWAYS"  # groups (comma list) whose steps raise on every attempt
#: values of RPCDEMO_DELAY_MODE (node_env.DELAY_MODE); the first is the default
DELAY_MODES = ("work", "sleep")
DELAY_WORK, DELAY_SLEEP = DELAY_MODES
DEFAULT_DELAY_MODE = DELAY_WORK


class NodeName(Record):
    """A node's readable name: its group plus a 1-based index within the group."""

    group: str
    index: int

    def __str__(self) -> str:
        if self.group in (GATEWAY, SERVER):
            return self.group
        return f"{self.group}-{self.index}"

    @classmethod
    def parse(cls, text: str) -> NodeName:
        """Parse ``service-b-2``/``gateway``/``server``; raise ``ValueError`` otherwise."""
        if text in (GATEWAY, SERVER):
            return cls(text, 1)
        group, sep, index = text.rpartition("-")
        if sep and group in SERVICE_GROUPS and index.isdigit() and int(index) >= 1:
            return cls(group, int(index))
        raise ValueError(f"not a node name: {text!r}")
