"""What to start: the topology's configuration and each node's command line and environment.

Pure functions of the configuration, the HOME and an incarnation; no
processes are started here. The environment follows the node contract in
``contracts/naming.py`` (every child also gets ``RPCDEMO_HOME`` and ``RPCDEMO_PARENT_PID``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from resonate_rpc_cli.clients.tokens import ENV_TOKEN, node_token
from resonate_rpc_cli.contracts import naming as topo
from resonate_rpc_cli.contracts import node_env
from resonate_rpc_cli.contracts import settings as table
from resonate_rpc_cli.contracts import values as cv
from resonate_rpc_cli.contracts.app_topology import AppTopology, AppTopologyJson, Readiness
from resonate_rpc_cli.contracts.connectors import POSTGRES, connector_of
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
from resonate_rpc_cli.contracts.settings import setting
from resonate_rpc_cli.supervisor import variants
from resonate_rpc_cli.supervisor.app_launch import check_app, declared_argv, declared_env
from resonate_rpc_cli.supervisor.topology_flags import (
    MAX_REPLICAS,
    PART_NAMES,
    check_replicas,
    parse_delay,
    parse_only,
    parse_replicas,
)

#: the flag rules moved to topology_flags.py, still importable from here
__all__ = ["MAX_REPLICAS", "PART_NAMES", "check_replicas", "parse_delay", "parse_only",
           "parse_replicas"]

if TYPE_CHECKING:  # the backends (and their HTTP client) load when a config picks one,
    # not when the CLI registers its options from this module (issue 21)
    from resonate_rpc_cli.backends import Backend

DEFAULT_TTL_S = 5.0
#: seconds `up` waits for every node to be ready (here, not in updown: `up --help` needs it)
DEFAULT_UP_TIMEOUT_S = 60.0
#: ``embedded``: our server (python -m resonate_rpc_cli.server); ``resonate``: the real
#: binary on PATH; ``postgres``: resonate-pg on a PostgreSQL cluster under HOME;
#: ``external``: a server (http(s)://) or resonate-pg database (postgresql://) already
#: running at ``server_url`` (none started).
SERVER_KINDS = ("embedded", "resonate", "postgres", "external")
EMBEDDED_SERVER, REAL_SERVER, POSTGRES_SERVER, EXTERNAL_SERVER = SERVER_KINDS


def server_kind_rule(value: Any) -> str:
    """The rule of ``server.kind``: a registered backend's kind (asked when checked, so a
    backend registered after import counts);
    :class:`~resonate_rpc_cli.contracts.values.BadValue` otherwise."""
    from resonate_rpc_cli.backends import server_kinds  # noqa: PLC0415 (see TYPE_CHECKING)

    kind: str = cv.choice(server_kinds())(value)
    return kind


def parse_server_choice(text: str) -> str:
    """``--server KIND``: a kind a registered backend starts (``up`` starts it itself);
    :class:`UsageError` otherwise."""
    from resonate_rpc_cli.backends import EXTERNAL, server_kinds  # noqa: PLC0415 (see TYPE_CHECKING)

    started = [k for k in server_kinds() if k != EXTERNAL]
    if text not in started:
        raise UsageError(f"--server must be {', '.join(started[:-1])} or {started[-1]}, "
                         f"got {text!r} (a running server: --server-url URL)")
    return text


@dataclass(frozen=True)
class TopologyConfig:
    """Everything ``up`` was asked for; serialised to the supervisor as JSON.

    ``server_url`` is the backend's (``backends/``): computed from
    ``host``/``server_port`` for a server ``up`` starts; for ``external`` it
    names the running server. ``only``
    (empty = everything) limits the gateway and service groups started;
    ``replicas`` sets nodes per service group (default 1, 0 allowed).
    """

    # -- the settings table: one entry per setting, in the topology file's order --
    server_port: int = setting(
        topo.DEFAULT_SERVER_PORT, toml="server.port", flag="--server-port", check=cv.port,
        help=f"Port of the server we start (default {topo.DEFAULT_SERVER_PORT}).")
    host: str = setting(
        topo.DEFAULT_HOST, toml="server.host", flag="--host", check=cv.host,
        node_var=node_env.GATEWAY_HOST,
        help="Address the server and gateway bind and nodes connect to, e.g. this host's LAN "
        "address so nodes on other hosts can join (default 127.0.0.1).")
    server_kind: str = setting(
        EMBEDDED_SERVER, toml="server.kind", flag="--server", check=server_kind_rule,
        flag_type=str, parse=parse_server_choice,
        help="embedded: our dev server; resonate: the real `resonate` binary on PATH; "
        "postgres: resonate-pg on a PostgreSQL cluster under HOME (default embedded).")
    #: checked by its backend (``config.backend``: the URL a backend reads), not the table
    server_url: str = setting(
        "", toml="server.url", flag="--server-url", envvar="RESONATE_URL", check=cv.url,
        validated=False,
        help="Use a Resonate server that is already running: no server is started.")
    memory: bool = setting(False, toml="server.memory", flag="--memory/--no-memory",
                           check=cv.flag, help="Keep the server's state in memory only.")
    #: The embedded server's retention horizon in seconds (``None``: keep everything).
    retain_s: float | None = setting(
        None, toml="server.retain", flag="--retain", flag_type=str, check=cv.duration,
        optional=True, metavar="DURATION",
        help="The embedded server drops call trees settled longer ago than this, e.g. 1h "
        "(default: keep everything).")
    #: resonate-pg's schema file (``postgres`` only), applied once to a new cluster
    resonate_sql: str = setting(
        "", toml="server.resonate_sql", flag="--resonate-sql", envvar="RPCDEMO_RESONATE_SQL",
        check=cv.path, optional=True, metavar="PATH",
        help="resonate-pg's schema file (resonate.sql from github.com/resonatehq/resonate-pg), "
        "applied once to the cluster of --server postgres.")
    #: Resonate's token auth on the embedded server: a key pair under HOME, a token per
    #: node, admin tokens for our reads (``clients/tokens.py``)
    auth: bool = setting(
        False, toml="server.auth", flag="--auth/--no-auth", check=cv.flag,
        help="Resonate tokens on the embedded server: a key pair under HOME, a token for "
        "every node, 401/403 for anyone without one (`rpcdemo token` mints more).")
    #: a non-loopback ``host`` without ``auth``, knowingly (``up --insecure``; flag only)
    insecure: bool = setting(
        False, flag="--insecure", check=cv.flag,
        help="Allow a non-loopback --host without --auth (anyone who reaches the port "
        "can drive the server).")
    gateway_port: int = setting(
        topo.DEFAULT_GATEWAY_PORT, toml="gateway.port", flag="--gateway-port", check=cv.port,
        node_var=node_env.GATEWAY_PORT,
        help=f"Port of the gateway (default {topo.DEFAULT_GATEWAY_PORT}).")
    ttl_s: float = setting(
        DEFAULT_TTL_S, toml="nodes.ttl", flag="--ttl", check=cv.positive_seconds,
        node_var=node_env.TTL,
        help="Lease TTL of every node, in seconds. Short, so a killed node's work moves on "
        f"quickly in a demo (Resonate's own default is 60) (default {DEFAULT_TTL_S}).")
    step_delay_s: float = setting(
        0.0, toml="nodes.step_delay", flag="--step-delay", check=cv.seconds,
        node_var=node_env.STEP_DELAY, node_value=lambda config, group: config.delay_for(group),
        help="Seconds every step takes (default 0).")
    delay_mode: str = setting(
        DEFAULT_DELAY_MODE, toml="nodes.delay_mode", flag="--delay-mode",
        check=cv.choice(DELAY_MODES), node_var=node_env.DELAY_MODE,
        help="work: busy work inside the step, re-done after a crash; sleep: a durable "
        "ctx.sleep (a checkpoint) (default work).")
    fail_first: bool = setting(
        False, toml="nodes.fail_first", flag="--fail-first/--no-fail-first", check=cv.flag,
        node_var=node_env.FAIL_FIRST,
        help="Every step raises on its first attempt (shows the SDK's retry).")
    #: per-group step delays; a group's nodes get theirs as the step delay
    delays: dict[str, float] = setting(
        factory=dict, toml="nodes.delay", flag="--delay", groups=True, check=cv.seconds,
        label="delay", flag_type=list[str], metavar="GROUP=SECONDS",
        parse=lambda texts: dict(parse_delay(t, None) for t in texts),
        help="Step delay for one group (the seed's or the topology file's), e.g. "
        "service-b=3 (repeatable).")
    restart_max_failures: int = setting(4, toml="restart.max_failures", check=cv.whole(1),
                                        label="restart max_failures", help="")
    restart_backoff_s: float = setting(0.25, toml="restart.backoff", check=cv.positive_seconds,
                                       label="restart backoff", help="")
    #: nodes per service group (checked by :func:`check_replicas`: 0 comes from `scale`)
    replicas: dict[str, int] = setting(
        factory=dict, toml="replicas", flag="--replicas", groups=True, validated=False,
        check=cv.whole(1, MAX_REPLICAS), flag_type=list[str], metavar="GROUP=N",
        parse=lambda texts: dict(parse_replicas(t, None) for t in texts),
        help="Nodes of one group (the seed's or the topology file's), e.g. service-b=3 "
        f"(repeatable; 1..{MAX_REPLICAS}).")
    #: every node reaches the server through its own link (``links/``); on by default:
    #: the embedded server adopts a healthy link's connections, so they cost almost
    #: nothing (benchmarks/bench_link_hop.py, bench_links.py)
    links: bool = setting(
        True, toml="links", flag="--links/--no-links", check=cv.flag,
        help="Each node reaches the server through its own loopback link, so "
        "`rpcdemo net` can break one node's network (default on; --no-links: nodes "
        "connect to the server directly).")
    #: which runtime runs each service group (``supervisor/variants.py``): ``seed`` (all
    #: Python) or ``polyglot`` (service-h and service-i on the TypeScript SDK)
    variant: str = setting(
        variants.SEED, toml="variant", flag="--variant", check=cv.choice(variants.VARIANTS),
        metavar="seed|polyglot",
        help="polyglot: service-h and service-i run on Resonate's TypeScript SDK "
        "(services/ts, Node from the venv) (default seed: all Python).")
    only: list[str] = setting(
        factory=list, flag="--only", validated=False, flag_type=str, metavar="PART,...",
        parse=lambda text: parse_only(text, None),
        help="Start only these of gateway, service-a … service-i, or of the topology file's "
        "groups (the server too, unless --server-url).")
    grace_s: float = 3.0
    #: a declared application (``[groups.*]``, ``[flows.*]``); None: the seed
    app: AppTopology | None = None

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
        from resonate_rpc_cli.backends import backend_for  # noqa: PLC0415 (see TYPE_CHECKING)

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

    @property
    def group_names(self) -> tuple[str, ...]:
        """The groups nodes run in: the declared application's, else the seed's gateway and
        nine service groups."""
        return self.app.group_names if self.app is not None else PART_NAMES

    def includes(self, part: str) -> bool:
        """Whether ``part`` (a group: the gateway or a service group) is started here."""
        return part in self.group_names and (not self.only or part in self.only)

    def replicas_of(self, group: str) -> int:
        spec = self.app.group(group) if self.app is not None else None
        default = spec.replicas if spec is not None else 1
        return self.replicas.get(group, default) if self.includes(group) else 0

    def node_names(self) -> list[NodeName]:
        """The initial nodes: server (unless external), then N nodes per group."""
        names = [NodeName(SERVER, 1)] if self.starts_server else []
        for group in self.group_names:
            names += [NodeName(group, i) for i in range(1, self.replicas_of(group) + 1)]
        return names

    def to_json(self) -> str:
        """The config as JSON (:meth:`from_json` reads it): every field, the declared
        application as :meth:`AppTopology.to_dict` gives it."""
        doc = asdict(self)
        doc["app"] = None if self.app is None else self.app.to_dict()
        return json.dumps(doc, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TopologyConfig:
        """The config :meth:`to_json` wrote (the supervisor's command line, ``status``)."""
        obj: dict[str, object] = json.loads(text)
        app = obj.pop("app", None)
        return table.build(cls, {**obj, "app": AppTopology.from_dict(cast(AppTopologyJson, app))
                                 if app else None})


def retain_seconds(text: str | float | None) -> float | None:
    """``--retain``/``retain`` as seconds (> 0); ``None`` stays ``None``; else UsageError."""
    return None if text is None else float(cv.from_flag("--retain", cv.duration, text))


def validate_config(config: TopologyConfig) -> TopologyConfig:
    """Return ``config`` or raise :class:`UsageError` naming the first bad value.

    Each setting by its rule in the settings table (the topology file uses the same
    rules), then the rules that join settings.
    """
    table.validate(config)
    if config.server_port == config.gateway_port:
        raise UsageError(f"--server-port and --gateway-port are both {config.server_port}")
    config.backend.check(config)  # --server-url, and the settings the server refuses
    if config.variant == variants.POLYGLOT and connector_of(config.server_url) == POSTGRES:
        raise UsageError("--variant polyglot needs an HTTP server: the TypeScript SDK does "
                         "not speak resonate-pg")
    groups = tuple(g for g in config.group_names if g != GATEWAY)
    for group, n in config.replicas.items():
        try:
            check_replicas(group, n, groups)  # 0 only arrives through `scale`
        except UsageError as exc:
            raise UsageError(f"--replicas: {exc}") from None
    for group in config.delays:
        if group not in groups:
            raise UsageError(f"--delay: unknown group {group!r}; valid groups: "
                             f"{', '.join(groups)}")
    for part in config.only:
        if part not in config.group_names:
            valid = ", ".join(config.group_names)
            raise UsageError(f"--only: unknown part {part!r}; valid: {valid}")
    if config.app is not None:
        check_app(config.app, config.variant)
    return config


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
    #: the working directory (a declared group's ``cwd``); None: ours
    cwd: str | None = None
    #: how a declared group's node is known to be ready; None: the seed's ready file
    ready: Readiness | None = None


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
        **node_environment(config, name.group),
    })
    if config.auth:
        env[ENV_TOKEN] = node_token(home)
    declared = config.app.group(name.group) if config.app is not None else None
    if declared is not None:
        env.update(declared_env(declared, label))
        return LaunchSpec(label, name.group, node_id, incarnation, declared_argv(declared), env,
                          log, ready, cwd=declared.cwd, ready=declared.ready)
    module = "services.gateway" if name.group == GATEWAY else SERVICE_GROUPS[name.group]
    script = variants.ts_script(config.variant, name.group)
    argv = variants.node_argv(script) if script else [sys.executable, "-m", module]
    return LaunchSpec(label, name.group, node_id, incarnation, argv, env, log, ready)


def node_environment(config: TopologyConfig, group: str) -> dict[str, str]:
    """The settings a node of ``group`` reads from its environment (``contracts/node_env.py``).

    A setting's ``node_value`` picks the group's own value (the step delay).
    """
    env: dict[str, str] = {}
    for entry in table.table(type(config)):
        var = entry.setting.node_var
        if var is None or not var.reaches(group):
            continue
        pick = entry.setting.node_value
        text = var.write(pick(config, group) if pick else getattr(config, entry.field))
        if text is not None:
            env[var.name] = text
    return env
