"""What to start: the topology's configuration and each node's command line and environment.

Pure functions of the configuration, the HOME and an incarnation; no
processes are started here. The environment follows the node contract in
``topology.py`` (every child also gets ``RPCDEMO_HOME`` and ``RPCDEMO_PARENT_PID``).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from resonate_rpc_cli import topology as topo
from resonate_rpc_cli.home import Home
from resonate_rpc_cli.lifeline import ENV_PARENT_PID
from resonate_rpc_cli.status import UsageError
from resonate_rpc_cli.topology import GATEWAY, SERVER, SERVICE_GROUPS, NodeName

DEFAULT_TTL_S = 5.0
DELAY_MODES = ("work", "sleep")


@dataclass(frozen=True)
class TopologyConfig:
    """Everything ``up`` was asked for; serialised to the supervisor as JSON."""

    server_port: int = topo.DEFAULT_SERVER_PORT
    gateway_port: int = topo.DEFAULT_GATEWAY_PORT
    host: str = topo.DEFAULT_HOST
    ttl_s: float = DEFAULT_TTL_S
    step_delay_s: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
    delay_mode: str = "work"
    fail_first: bool = False
    memory: bool = False
    grace_s: float = 3.0

    @property
    def server_url(self) -> str:
        return f"http://{self.host}:{self.server_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    def delay_for(self, group: str) -> float:
        return self.delays.get(group, self.step_delay_s)

    def node_names(self) -> list[NodeName]:
        """The initial nodes: server, gateway, one node per service group."""
        return [
            NodeName(SERVER, 1), NodeName(GATEWAY, 1),
            *(NodeName(group, 1) for group in SERVICE_GROUPS),
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TopologyConfig:
        obj: dict[str, Any] = json.loads(text)
        return cls(**obj)


def validate_config(config: TopologyConfig) -> TopologyConfig:
    """Return ``config`` or raise :class:`UsageError` naming the first bad value."""
    for label, port in (("--server-port", config.server_port),
                        ("--gateway-port", config.gateway_port)):
        if not 1 <= port <= 65535:
            raise UsageError(f"{label} must be between 1 and 65535, got {port}")
    if config.server_port == config.gateway_port:
        raise UsageError(f"--server-port and --gateway-port are both {config.server_port}")
    if not (math.isfinite(config.ttl_s) and config.ttl_s > 0):
        raise UsageError(f"--ttl must be a positive number of seconds, got {config.ttl_s}")
    for group, delay in {"--step-delay": config.step_delay_s, **config.delays}.items():
        if not (math.isfinite(delay) and delay >= 0):
            raise UsageError(f"delay for {group} must be >= 0 seconds, got {delay}")
    if config.delay_mode not in DELAY_MODES:
        raise UsageError(f"--delay-mode must be one of {', '.join(DELAY_MODES)}")
    return config


def parse_delay(text: str) -> tuple[str, float]:
    """Parse ``GROUP=SECONDS`` (e.g. ``service-b=3``); raise :class:`UsageError` otherwise."""
    group, sep, raw = text.partition("=")
    group = group.strip()
    if not sep or not group or not raw.strip():
        raise UsageError(f"bad --delay {text!r}: expected GROUP=SECONDS, e.g. service-b=3")
    if group not in SERVICE_GROUPS:
        valid = ", ".join(SERVICE_GROUPS)
        raise UsageError(f"bad --delay {text!r}: unknown group {group!r}; valid groups: {valid}")
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"bad --delay {text!r}: {raw!r} is not a number of seconds") from None
    if not (math.isfinite(seconds) and seconds >= 0):
        raise UsageError(f"bad --delay {text!r}: seconds must be >= 0")
    return group, seconds


@dataclass(frozen=True)
class LaunchSpec:
    """One incarnation of one node: how to start it and where it reports."""

    name: str
    group: str
    node_id: str
    incarnation: int
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready_file: Path | None


def build_launch(
    config: TopologyConfig, home: Home, name: NodeName, *, incarnation: int, node_id: str,
    parent_pid: int,
) -> LaunchSpec:
    """The command line and environment of ``name``'s ``incarnation``-th process."""
    label = str(name)
    env = {
        topo.ENV_HOME: str(home.root),
        ENV_PARENT_PID: str(parent_pid),
        "PYTHONUNBUFFERED": "1",
    }
    log = home.node_log(label, incarnation)
    if name.group == SERVER:
        store = ["--memory"] if config.memory else ["--store", str(home.store_path)]
        argv = [sys.executable, "-m", "resonate_rpc_cli.server", "--host", config.host,
                "--port", str(config.server_port), *store]
        return LaunchSpec(label, SERVER, node_id, incarnation, argv, env, log, None)
    ready = home.ready_file(label, node_id)
    env.update({
        topo.ENV_URL: config.server_url,
        topo.ENV_NODE_NAME: label,
        topo.ENV_NODE_ID: node_id,
        topo.ENV_LEDGER_DIR: str(home.ledger_dir),
        topo.ENV_READY_FILE: str(ready),
        topo.ENV_TTL: repr(config.ttl_s),
    })
    if name.group == GATEWAY:
        env[topo.ENV_GATEWAY_HOST] = config.host
        env[topo.ENV_GATEWAY_PORT] = str(config.gateway_port)
        module = "services.gateway"
    else:
        module = SERVICE_GROUPS[name.group]
        env[topo.ENV_STEP_DELAY] = repr(config.delay_for(name.group))
        env[topo.ENV_DELAY_MODE] = config.delay_mode
        if config.fail_first:
            env[topo.ENV_FAIL_FIRST] = "1"
    argv = [sys.executable, "-m", module]
    return LaunchSpec(label, name.group, node_id, incarnation, argv, env, log, ready)
