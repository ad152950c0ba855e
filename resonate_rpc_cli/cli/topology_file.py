"""The topology file: ``rpcdemo.toml`` (or ``--config PATH``), validated strictly.

The file sets what ``up`` flags set; flags given on the command line override
it. Every key is known: a misspelt key or a value of the wrong type is a
:class:`~resonate_rpc_cli.contracts.errors.UsageError` naming the file and the key, so
a typo never silently falls back to a default.

Example (``examples/rpcdemo.toml``)::

    links = false            # true: each node reaches the server through its own link proxy

    [server]
    port = 8001
    host = "127.0.0.1"       # what the server and gateway bind (a LAN address for 2 hosts)
    kind = "embedded"        # embedded | resonate | postgres | external
    # url = "http://db-host:8001"   # with kind = "external" (or postgresql://...)
    # resonate_sql = "resonate.sql" # with kind = "postgres": resonate-pg's schema file
    memory = false
    # retain = "1h"          # drop call trees settled longer ago (default: keep all)

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

import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resonate_rpc_cli.contracts.durations import parse_duration
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS, is_postgres_url

DEFAULT_CONFIG_NAME = "rpcdemo.toml"
SERVER_KINDS = ("embedded", "resonate", "postgres", "external")
DELAY_MODES = ("work", "sleep")
MAX_REPLICAS = 16


class _Bad(Exception):
    pass


def _port(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        raise _Bad("must be a port number between 1 and 65535")
    return v


def _seconds(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise _Bad("must be a number of seconds >= 0")
    return float(v)


def _positive_seconds(v: Any) -> float:
    s = _seconds(v)
    if s <= 0:
        raise _Bad("must be a number of seconds > 0")
    return s


def _duration(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise _Bad('must be a duration like "90s", "30m", "1h" or a number of seconds')
    try:
        seconds = parse_duration(v)
    except ValueError as exc:
        raise _Bad(str(exc)) from None
    if seconds <= 0:
        raise _Bad("must be longer than 0")
    return seconds


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad("must be true or false")
    return v


def _count(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _Bad("must be a whole number >= 1")
    return v


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in options:
            raise _Bad(f"must be one of {', '.join(options)}")
        return str(v)

    return check


def _url(v: Any) -> str:
    if not isinstance(v, str) or not (v.startswith(("http://", "https://"))
                                      or is_postgres_url(v)):
        raise _Bad("must be an http:// or https:// URL or a postgresql:// database")
    return v


def _path(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _Bad("must be a file path")
    return v


def _host(v: Any) -> str:
    if not isinstance(v, str) or not v or any(c in v for c in "/: "):
        raise _Bad("must be an address like 127.0.0.1 (no scheme, no port)")
    return v


def _replicas(v: Any) -> int:
    n = _count(v)
    if n > MAX_REPLICAS:
        raise _Bad(f"must be at most {MAX_REPLICAS}")
    return n


#: table -> key -> (TopologyConfig field, validator)
SCHEMA: dict[str, dict[str, tuple[str, Callable[[Any], Any]]]] = {
    "server": {
        "port": ("server_port", _port),
        "host": ("host", _host),
        "kind": ("server_kind", _choice(SERVER_KINDS)),
        "url": ("server_url", _url),
        "memory": ("memory", _bool),
        "retain": ("retain_s", _duration),
        "resonate_sql": ("resonate_sql", _path),
    },
    "gateway": {"port": ("gateway_port", _port)},
    "nodes": {
        "ttl": ("ttl_s", _positive_seconds),
        "step_delay": ("step_delay_s", _seconds),
        "delay_mode": ("delay_mode", _choice(DELAY_MODES)),
        "fail_first": ("fail_first", _bool),
    },
    "restart": {
        "max_failures": ("restart_max_failures", _count),
        "backoff": ("restart_backoff_s", _positive_seconds),
    },
}
#: keys outside any table -> (TopologyConfig field, validator)
TOP_LEVEL: dict[str, tuple[str, Callable[[Any], Any]]] = {"links": ("links", _bool)}
#: tables whose keys are service groups
GROUP_TABLES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "nodes.delay": ("delays", _seconds),
    "replicas": ("replicas", _replicas),
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
            try:
                out[field] = check(body)
            except _Bad as exc:
                raise UsageError(f"{source}: {table} {exc}, got {body!r}") from None
            continue
        if table not in SCHEMA and table not in GROUP_TABLES:
            valid = ", ".join([*SCHEMA, "replicas"])
            raise UsageError(f"{source}: unknown table [{table}] (valid: {valid})")
        if not isinstance(body, dict):
            raise UsageError(f"{source}: {table} must be a table, e.g. [{table}]")
        if table in GROUP_TABLES:
            _parse_groups(table, body, source, out)
            continue
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
            try:
                out[field] = check(value)
            except _Bad as exc:
                raise UsageError(f"{source}: {dotted} {exc}, got {value!r}") from None
    if out.get("server_kind") == "external" and "server_url" not in out:
        raise UsageError(f"{source}: server.kind = \"external\" needs server.url")
    if "server_url" in out and out.get("server_kind", "external") != "external":
        raise UsageError(f"{source}: server.url only goes with server.kind = \"external\"")
    return out


def _parse_groups(table: str, body: dict[str, Any], source: str, out: dict[str, Any]) -> None:
    field, check = GROUP_TABLES[table]
    parsed: dict[str, Any] = {}
    for group, value in body.items():
        if group not in SERVICE_GROUPS:
            valid = ", ".join(SERVICE_GROUPS)
            raise UsageError(f"{source}: unknown group {table}.{group} (valid: {valid})")
        try:
            parsed[group] = check(value)
        except _Bad as exc:
            raise UsageError(f"{source}: {table}.{group} {exc}, got {value!r}") from None
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
        merged.update(server_kind="external", server_url=url)
    elif kind is not None:
        merged["server_kind"] = kind
        merged.pop("server_url", None)
    return merged
