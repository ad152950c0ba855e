"""What to start: the topology's configuration and each node's command line and environment.

Pure functions of the configuration, the HOME and an incarnation; no
processes are started here. The environment follows the node contract in
``contracts/naming.py`` (every child also gets ``RPCDEMO_HOME`` and ``RPCDEMO_PARENT_PID``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resonate_rpc_cli.clients.tokens import ENV_TOKEN, node_token
from resonate_rpc_cli.contracts import naming as topo
from resonate_rpc_cli.contracts.connectors import POSTGRES, connector_of
from resonate_rpc_cli.contracts.durations import parse_duration
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.lifeline import ENV_PARENT_PID
from resonate_rpc_cli.contracts.naming import (
    DEFAULT_DELAY_MODE,
    DELAY_MODES,
    GATEWAY,
    SERVER,
    SERVICE_GROUPS,
    NodeName,
)
from resonate_rpc_cli.supervisor import config_values as cv
from resonate_rpc_cli.supervisor import variants

if TYPE_CHECKING:
    from resonate_rpc_cli.backends import Backend

DEFAULT_TTL_S = 5.0
#: seconds `up` waits for every node to be ready (here, not in launch: `up --help` needs it)
DEFAULT_UP_TIMEOUT_S = 60.0
#: ``embedded``: our server (python -m resonate_rpc_cli.server); ``resonate``: the real
#: binary on PATH; ``postgres``: resonate-pg on a PostgreSQL cluster under HOME;
#: ``external``: a server (http(s)://) or resonate-pg database (postgresql://) already
#: running at ``server_url`` (none started).
SERVER_KINDS = ("embedded", "resonate", "postgres", "external")
EMBEDDED_SERVER, REAL_SERVER, POSTGRES_SERVER, EXTERNAL_SERVER = SERVER_KINDS
#: the kinds ``up --server`` starts itself
STARTED_SERVER_KINDS = (EMBEDDED_SERVER, REAL_SERVER, POSTGRES_SERVER)
MAX_REPLICAS = 16
#: What ``--only`` may name: the gateway and the service groups (the server follows
#: the server kind).
PART_NAMES = (GATEWAY, *SERVICE_GROUPS)


@dataclass(frozen=True)
class TopologyConfig:
    """Everything ``up`` was asked for; serialised to the supervisor as JSON.

    ``server_url`` is the backend's (``backends/``): computed from
    ``host``/``server_port`` for a server ``up`` starts; for ``external`` it
    names the running server. ``only``
    (empty = everything) limits the gateway and service groups started;
    ``replicas`` sets nodes per service group (default 1, 0 allowed).
    """

    server_port: int = topo.DEFAULT_SERVER_PORT
    gateway_port: int = topo.DEFAULT_GATEWAY_PORT
    host: str = topo.DEFAULT_HOST
    ttl_s: float = DEFAULT_TTL_S
    step_delay_s: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
    delay_mode: str = DEFAULT_DELAY_MODE
    fail_first: bool = False
    memory: bool = False
    grace_s: float = 3.0
    server_kind: str = EMBEDDED_SERVER
    server_url: str = ""
    replicas: dict[str, int] = field(default_factory=dict)
    only: list[str] = field(default_factory=list)
    restart_max_failures: int = 4
    restart_backoff_s: float = 0.25
    #: every node reaches the server through its own link proxy (``links/``); off by
    #: default: they cost more than the 15% flow latency budget (benchmarks/bench_links.py)
    links: bool = False
    #: The embedded server's retention horizon in seconds (``None``: keep everything).
    retain_s: float | None = None
    #: resonate-pg's schema file (``postgres`` only), applied once to a new cluster
    resonate_sql: str = ""
    #: Resonate's token auth on the embedded server: a key pair under HOME, a token per
    #: node, admin tokens for our reads (``clients/tokens.py``)
    auth: bool = False
    #: a non-loopback ``host`` without ``auth``, knowingly (``up --insecure``)
    insecure: bool = False
    #: which runtime runs each service group (``supervisor/variants.py``): ``seed`` (all
    #: Python) or ``polyglot`` (service-h and service-i on the TypeScript SDK)
    variant: str = variants.SEED

    def __post_init__(self) -> None:
        try:
            url = self.backend.server_url(self)
        except UsageError:  # no backend fits: validate_config says so
            url = self.server_url.rstrip("/")
        object.__setattr__(self, "server_url", url)

    @property
    def backend(self) -> Backend:
        """The server's backend, chosen by ``server_kind`` (and the URL for ``external``);
        :class:`UsageError` when none fits."""
        from resonate_rpc_cli.backends import backend_for  # noqa: PLC0415 (see _server_kinds)

        return backend_for(self.server_kind, self.server_url)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def starts_server(self) -> bool:
        """Whether ``up`` starts a server (not for an external one)."""
        return self.backend.started

    def delay_for(self, group: str) -> float:
        return self.delays.get(group, self.step_delay_s)

    def includes(self, part: str) -> bool:
        """Whether ``part`` (gateway or a service group) is started by this topology."""
        return not self.only or part in self.only

    def replicas_of(self, group: str) -> int:
        return self.replicas.get(group, 1) if self.includes(group) else 0

    def node_names(self) -> list[NodeName]:
        """The initial nodes: server (unless external), gateway, N nodes per service group."""
        names = [NodeName(SERVER, 1)] if self.starts_server else []
        if self.includes(GATEWAY):
            names.append(NodeName(GATEWAY, 1))
        for group in SERVICE_GROUPS:
            names += [NodeName(group, i) for i in range(1, self.replicas_of(group) + 1)]
        return names

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TopologyConfig:
        obj: dict[str, Any] = json.loads(text)
        return cls(**obj)


def retain_seconds(text: str | float | None) -> float | None:
    """``--retain``/``retain`` as seconds (> 0); ``None`` stays ``None``; else UsageError."""
    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--retain: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"--retain must be longer than 0, got {text!r}")
    return seconds


def _server_kinds() -> tuple[str, ...]:
    """The kinds the backends register; imported here, not at the top, so the CLI's
    `--help` reads this module's defaults without the backends (issue 21)."""
    from resonate_rpc_cli.backends import server_kinds  # noqa: PLC0415

    return server_kinds()


def validate_config(config: TopologyConfig) -> TopologyConfig:
    """Return ``config`` or raise :class:`UsageError` naming the first bad value.

    The value rules are those of ``config_values`` (the topology file uses them too).
    """
    settings: list[tuple[str, cv.Check, Any]] = [
        ("--server-port", cv.port, config.server_port),
        ("--gateway-port", cv.port, config.gateway_port),
        ("--host", cv.host, config.host),
        ("--ttl", cv.positive_seconds, config.ttl_s),
        ("--step-delay", cv.seconds, config.step_delay_s),
        *((f"delay for {group}", cv.seconds, d) for group, d in config.delays.items()),
        ("--delay-mode", cv.choice(DELAY_MODES), config.delay_mode),
        ("--server", cv.choice(_server_kinds()), config.server_kind),
        ("--variant", cv.choice(variants.VARIANTS), config.variant),
        ("restart max_failures", cv.whole(1), config.restart_max_failures),
        ("restart backoff", cv.positive_seconds, config.restart_backoff_s),
    ]
    for label, check, value in settings:
        cv.checked(label, check, value)
    if config.server_port == config.gateway_port:
        raise UsageError(f"--server-port and --gateway-port are both {config.server_port}")
    config.backend.check(config)  # --server-url, and the settings the server refuses
    if config.variant == variants.POLYGLOT and connector_of(config.server_url) == POSTGRES:
        raise UsageError("--variant polyglot needs an HTTP server: the TypeScript SDK does "
                         "not speak resonate-pg")
    for group, n in config.replicas.items():
        check_replicas(group, n)  # 0 only arrives through `scale`
    for part in config.only:
        if part not in PART_NAMES:
            raise UsageError(f"--only: unknown part {part!r}; valid: {', '.join(PART_NAMES)}")
    return config


def check_replicas(group: str, n: int) -> int:
    """Return ``n`` if ``group`` is a service group and 0 <= n <= MAX_REPLICAS, else UsageError."""
    if group not in SERVICE_GROUPS:
        raise UsageError(f"unknown group {group!r}; valid groups: {', '.join(SERVICE_GROUPS)}")
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_REPLICAS:
        raise UsageError(f"replicas of {group} must be a whole number from 0 to {MAX_REPLICAS}, "
                         f"got {n!r}")
    return n


def parse_replicas(text: str) -> tuple[str, int]:
    """Parse ``GROUP=N`` (e.g. ``service-b=3``); raise :class:`UsageError` otherwise."""
    group, sep, raw = text.partition("=")
    group = group.strip()
    if not sep or not group or not raw.strip():
        raise UsageError(f"bad --replicas {text!r}: expected GROUP=N, e.g. service-b=3")
    try:
        n = int(raw)
    except ValueError:
        raise UsageError(f"bad --replicas {text!r}: {raw.strip()!r} is not a whole number") \
            from None
    try:
        check_replicas(group, n)
    except UsageError as exc:
        raise UsageError(f"bad --replicas {text!r}: {exc}") from None
    if n == 0:
        raise UsageError(f"bad --replicas {text!r}: at least 1 at `up` (leave a group out "
                         "with --only; `rpcdemo scale GROUP 0` stops a running one)")
    return group, n


def parse_only(text: str) -> list[str]:
    """Parse ``gateway,service-a`` into its parts; raise :class:`UsageError` naming a bad one."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UsageError(f"--only needs at least one of {', '.join(PART_NAMES)}")
    for part in parts:
        if part not in PART_NAMES:
            raise UsageError(f"--only: unknown part {part!r}; valid: {', '.join(PART_NAMES)}")
    return list(dict.fromkeys(parts))


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
        return group, cv.seconds(float(raw))
    except ValueError:
        raise UsageError(f"bad --delay {text!r}: {raw!r} is not a number of seconds") from None
    except cv.BadValue as exc:
        raise UsageError(f"bad --delay {text!r}: {exc}") from None


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
    parent_pid: int, server_url: str | None = None,
) -> LaunchSpec:
    """The command line and environment of ``name``'s ``incarnation``-th process.

    ``server_url`` is where the node reaches the server (its link, see
    ``links/``); the server's own URL when None.
    """
    label = str(name)
    env = {
        topo.ENV_HOME: str(home.root),
        ENV_PARENT_PID: str(parent_pid),
        "PYTHONUNBUFFERED": "1",
    }
    log = home.node_log(label, incarnation)
    if name.group == SERVER:
        argv, server_env = config.backend.server_command(config, home)
        env.update(server_env)
        return LaunchSpec(label, SERVER, node_id, incarnation, argv, env, log, None)
    ready = home.ready_file(label, node_id)
    env.update({
        topo.ENV_URL: server_url or config.server_url,
        topo.ENV_NODE_NAME: label,
        topo.ENV_NODE_ID: node_id,
        topo.ENV_LEDGER_DIR: str(home.ledger_dir),
        topo.ENV_READY_FILE: str(ready),
        topo.ENV_TTL: repr(config.ttl_s),
    })
    if config.auth:
        env[ENV_TOKEN] = node_token(home)
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
    script = variants.ts_script(config.variant, name.group)
    argv = variants.node_argv(script) if script else [sys.executable, "-m", module]
    return LaunchSpec(label, name.group, node_id, incarnation, argv, env, log, ready)
