"""The topology file: ``rpcdemo.toml`` (or ``--config PATH``), validated strictly.

The file sets what ``up`` flags set; flags given on the command line override
it. Every key is known: a misspelt key or a value of the wrong type is a
:class:`~resonate_rpc_cli.contracts.errors.UsageError` naming the file and the key, so
a typo never silently falls back to a default.

Example (``examples/rpcdemo.toml``)::

    links = false            # true: each node reaches the server through its own link proxy
    variant = "seed"         # seed | polyglot (service-h, service-i on the TypeScript SDK)

    [server]
    port = 8001
    host = "127.0.0.1"       # what the server and gateway bind (a LAN address for 2 hosts)
    kind = "embedded"        # embedded | resonate | postgres | external
    # url = "http://db-host:8001"   # with kind = "external" (or postgresql://...)
    # resonate_sql = "resonate.sql" # with kind = "postgres": resonate-pg's schema file
    memory = false
    # retain = "1h"          # drop call trees settled longer ago (default: keep all)
    # auth = true            # Resonate tokens (needed for a non-loopback host)

    [gateway]
    port = 5000

    [nodes]
    ttl = 5                  # lease seconds
    step_delay = 0
    delay_mode = "work"      # work | sleep
    fail_first = false

    [nodes.delay]
    service-b = 3

    [replicas]
    service-b = 3

    [restart]
    max_failures = 5
    backoff = 0.5

:func:`load_config_file` returns the settings as a flat mapping whose keys
are the supervisor's ``TopologyConfig`` field names.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import DELAY_MODES, SERVICE_GROUPS
from resonate_rpc_cli.supervisor import config_values as cv
from resonate_rpc_cli.supervisor.topology_config import (
    EXTERNAL_SERVER,
    MAX_REPLICAS,
    SERVER_KINDS,
)
from resonate_rpc_cli.supervisor.variants import VARIANTS

DEFAULT_CONFIG_NAME = "rpcdemo.toml"


#: table -> key -> (TopologyConfig field, validator)
SCHEMA: dict[str, dict[str, tuple[str, cv.Check]]] = {
    "server": {
        "port": ("server_port", cv.port),
        "host": ("host", cv.host),
        "kind": ("server_kind", cv.choice(SERVER_KINDS)),
        "url": ("server_url", cv.url),
        "memory": ("memory", cv.flag),
        "retain": ("retain_s", cv.duration),
        "resonate_sql": ("resonate_sql", cv.path),
        "auth": ("auth", cv.flag),
    },
    "gateway": {"port": ("gateway_port", cv.port)},
    "nodes": {
        "ttl": ("ttl_s", cv.positive_seconds),
        "step_delay": ("step_delay_s", cv.seconds),
        "delay_mode": ("delay_mode", cv.choice(DELAY_MODES)),
        "fail_first": ("fail_first", cv.flag),
    },
    "restart": {
        "max_failures": ("restart_max_failures", cv.whole(1)),
        "backoff": ("restart_backoff_s", cv.positive_seconds),
    },
}
#: keys outside any table -> (TopologyConfig field, validator)
TOP_LEVEL: dict[str, tuple[str, cv.Check]] = {
    "links": ("links", cv.flag),
    "variant": ("variant", cv.choice(VARIANTS)),
}
#: tables whose keys are service groups
GROUP_TABLES: dict[str, tuple[str, cv.Check]] = {
    "nodes.delay": ("delays", cv.seconds),
    "replicas": ("replicas", cv.whole(1, MAX_REPLICAS)),
}


def parse_config(text: str, source: str = DEFAULT_CONFIG_NAME) -> dict[str, Any]:
    """Validate TOML ``text``; return ``{TopologyConfig field: value}``.

    Raises :class:`UsageError` (one line, naming ``source`` and the key) on any
    syntax error, unknown table or key, or bad value.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: not valid TOML: {exc}") from None
    out: dict[str, Any] = {}
    for table, body in doc.items():
        if table in TOP_LEVEL:
            field, check = TOP_LEVEL[table]
            out[field] = cv.checked(f"{source}: {table}", check, body)
            continue
        if table not in SCHEMA and table not in GROUP_TABLES:
            valid = ", ".join([*SCHEMA, "replicas"])
            raise UsageError(f"{source}: unknown table [{table}] (valid: {valid})")
        if not isinstance(body, dict):
            raise UsageError(f"{source}: {table} must be a table, e.g. [{table}]")
        if table in GROUP_TABLES:
            _parse_groups(table, body, source, out)
        else:
            _parse_table(table, body, source, out)
    if out.get("server_kind") == EXTERNAL_SERVER and "server_url" not in out:
        raise UsageError(f"{source}: server.kind = \"external\" needs server.url")
    if "server_url" in out and out.get("server_kind", EXTERNAL_SERVER) != EXTERNAL_SERVER:
        raise UsageError(f"{source}: server.url only goes with server.kind = \"external\"")
    return out


def _parse_table(table: str, body: dict[str, Any], source: str, out: dict[str, Any]) -> None:
    """The keys of one ``SCHEMA`` table (and ``[nodes.delay]`` inside ``[nodes]``)."""
    for key, value in body.items():
        dotted = f"{table}.{key}"
        if table == "nodes" and key == "delay":
            if not isinstance(value, dict):
                raise UsageError(f"{source}: nodes.delay must be a table of GROUP = SECONDS")
            _parse_groups("nodes.delay", value, source, out)
            continue
        if key not in SCHEMA[table]:
            valid = ", ".join(SCHEMA[table]) + (", delay" if table == "nodes" else "")
            raise UsageError(f"{source}: unknown key {dotted} (valid in [{table}]: {valid})")
        field, check = SCHEMA[table][key]
        out[field] = cv.checked(f"{source}: {dotted}", check, value)


def _parse_groups(table: str, body: dict[str, Any], source: str, out: dict[str, Any]) -> None:
    field, check = GROUP_TABLES[table]
    parsed: dict[str, Any] = {}
    for group, value in body.items():
        if group not in SERVICE_GROUPS:
            valid = ", ".join(SERVICE_GROUPS)
            raise UsageError(f"{source}: unknown group {table}.{group} (valid: {valid})")
        parsed[group] = cv.checked(f"{source}: {table}.{group}", check, value)
    out[field] = parsed


def load_config_file(path: Path | None, cwd: Path | None = None) -> dict[str, Any]:
    """Load ``path``, or ``./rpcdemo.toml`` when ``path`` is None and it exists.

    An explicitly named file that does not exist is a :class:`UsageError`;
    a missing default file means no settings (``{}``).
    """
    if path is None:
        default = (cwd or Path.cwd()) / DEFAULT_CONFIG_NAME
        if not default.is_file():
            return {}
        path = default
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from None
    return parse_config(text, str(path))


def merge_settings(file_settings: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """``TopologyConfig`` keyword arguments: the file's settings, overridden by ``flags``.

    ``flags`` holds only what was given on the command line. Per-group tables
    (``delays``, ``replicas``) merge group by group. A server URL from the flags
    (``--server-url``/``RESONATE_URL``) means ``server_kind = "external"``; a
    server kind from the flags drops the file's URL. ``--server-url`` together
    with ``--server`` is a :class:`UsageError`.
    """
    merged = dict(file_settings)
    for key in ("delays", "replicas"):
        if key in flags:
            merged[key] = {**file_settings.get(key, {}), **flags[key]}
    for key, value in flags.items():
        if key not in ("delays", "replicas", "server_kind", "server_url"):
            merged[key] = value
    kind, url = flags.get("server_kind"), flags.get("server_url")
    if kind is not None and url is not None:
        raise UsageError("--server-url uses a server that is already running; "
                         "drop --server (or --server-url)")
    if url is not None:
        merged.update(server_kind=EXTERNAL_SERVER, server_url=url)
    elif kind is not None:
        merged["server_kind"] = kind
        merged.pop("server_url", None)
    return merged
