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

:func:`load_config_file` returns a :class:`TopologyFile`: the settings it sets
by the supervisor's ``TopologyConfig`` field names, and the application it
declares. The keys, their rules and their fields are ``TopologyConfig``'s
settings table (``contracts/settings.py``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from resonate_rpc_cli.backends.base import kind_url_problem
from resonate_rpc_cli.contracts import values as cv
from resonate_rpc_cli.contracts.app_parse import APP_TABLES, parse_app, toml_problem
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS
from resonate_rpc_cli.contracts.settings import Entry, table
from resonate_rpc_cli.supervisor.topology_config import EXTERNAL_SERVER, TopologyConfig

DEFAULT_CONFIG_NAME = "rpcdemo.toml"
#: the package data of ``rpcdemo init``: the seed in the file format, and a template
TOPOLOGIES = ("topologies",)
SEED_FILE, TEMPLATE_FILE = "seed.toml", "template.toml"


@dataclass(frozen=True, slots=True)
class TopologyFile:
    """A topology file as parsed: the settings it sets, by config field (each value
    checked by its table entry's rule; the settings table decides the keys, so they stay
    a mapping, made into the record by :func:`~resonate_rpc_cli.contracts.settings.build`),
    and the application its ``[groups.*]``/``[flows.*]`` declare (None: none)."""

    settings: dict[str, object] = field(default_factory=dict)
    app: AppTopology | None = None


def packaged_text(name: str) -> str:
    """The text of ``topologies/<name>`` shipped with the package (``seed.toml``,
    ``template.toml``)."""
    return files("resonate_rpc_cli").joinpath(*TOPOLOGIES, name).read_text(encoding="utf-8")


def seed_topology() -> AppTopology:
    """The built-in seed as a declared application (``topologies/seed.toml``)."""
    path = files("resonate_rpc_cli").joinpath(*TOPOLOGIES, SEED_FILE)
    app = parse_config(packaged_text(SEED_FILE), str(path)).app
    assert app is not None, "seed.toml declares the seed's groups"
    return app


def _file_keys(cls: type[Any]) -> tuple[dict[str, dict[str, Entry]], dict[str, Entry]]:
    """The settings table by file key: ``{table: {key: entry}}`` and the top-level keys
    (a scalar like ``links``, or a table of service groups like ``[replicas]``)."""
    tables: dict[str, dict[str, Entry]] = {}
    top: dict[str, Entry] = {}
    for entry in table(cls):
        key = entry.setting.toml
        if key is None:
            continue
        head, dot, tail = key.partition(".")
        if dot:
            tables.setdefault(head, {})[tail] = entry
        else:
            top[key] = entry
    return tables, top


def parse_config(text: str, source: str = DEFAULT_CONFIG_NAME,
                 cls: type[Any] = TopologyConfig) -> TopologyFile:
    """Validate TOML ``text``; return its settings by ``TopologyConfig`` field and its
    application (``cls``: another config record's settings table, which has none).

    Raises :class:`UsageError` (one line, naming ``source`` and the key) on any
    syntax error, unknown table or key, or bad value. The ``[app]``, ``[groups.*]`` and
    ``[flows.*]`` tables of a declared application (``contracts/app_parse.py``) become
    ``app``: an :class:`~resonate_rpc_cli.contracts.app_topology.AppTopology`.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise toml_problem(exc, source) from None
    tables, top = _file_keys(cls)
    out: dict[str, object] = {}
    groups = tuple(SERVICE_GROUPS)
    app = None
    if cls is TopologyConfig:
        app = parse_app({k: doc.pop(k) for k in APP_TABLES if k in doc}, text, source,
                        Path(source).resolve().parent)
        if app is not None:
            groups = app.group_names
    for name, body in doc.items():
        entry = top.get(name)
        if entry is not None and not entry.setting.groups:
            out[entry.field] = cv.checked(f"{source}: {name}", _check(entry), body)
            continue
        if name not in tables and entry is None:
            valid = ", ".join([*tables, *(k for k, e in top.items() if e.setting.groups)])
            raise UsageError(f"{source}: unknown table [{name}] (valid: {valid})")
        if not isinstance(body, dict):
            raise UsageError(f"{source}: {name} must be a table, e.g. [{name}]")
        if entry is not None:
            _parse_groups(name, entry, body, source, out, groups)
        else:
            _parse_table(name, tables[name], body, source, out, groups)
    problem = kind_url_problem(out.get("server_kind"), out.get("server_url"))
    if problem is not None:
        raise UsageError(f"{source}: {problem}")
    return TopologyFile(out, app)


def _check(entry: Entry) -> cv.Check:
    check = entry.setting.check
    assert check is not None, f"{entry.field} has a file key but no rule"
    return check


def _parse_table(name: str, keys: dict[str, Entry], body: dict[str, object], source: str,
                 out: dict[str, object], groups: tuple[str, ...]) -> None:
    """The keys of one table (and a table of service groups inside it: ``[nodes.delay]``)."""
    for key, value in body.items():
        dotted = f"{name}.{key}"
        entry = keys.get(key)
        if entry is None:
            valid = ", ".join(keys)
            raise UsageError(f"{source}: unknown key {dotted} (valid in [{name}]: {valid})")
        if entry.setting.groups:
            if not isinstance(value, dict):
                shape = (entry.setting.metavar or "GROUP=VALUE").replace("=", " = ")
                raise UsageError(f"{source}: {dotted} must be a table of {shape}")
            _parse_groups(dotted, entry, value, source, out, groups)
        else:
            out[entry.field] = cv.checked(f"{source}: {dotted}", _check(entry), value)


def _parse_groups(name: str, entry: Entry, body: dict[str, object], source: str,
                  out: dict[str, object], groups: tuple[str, ...]) -> None:
    """A table of groups (``[replicas]``, ``[nodes.delay]``): the seed's service groups,
    or the declared application's."""
    parsed: dict[str, object] = {}
    for group, value in body.items():
        if group not in groups:
            valid = ", ".join(groups)
            raise UsageError(f"{source}: unknown group {name}.{group} (valid: {valid})")
        parsed[group] = cv.checked(f"{source}: {name}.{group}", _check(entry), value)
    out[entry.field] = parsed


def load_config_file(path: Path | None, cwd: Path | None = None) -> TopologyFile:
    """Load ``path``, or ``./rpcdemo.toml`` when ``path`` is None and it exists.

    An explicitly named file that does not exist is a :class:`UsageError`;
    a missing default file means no settings (an empty :class:`TopologyFile`).
    """
    if path is None:
        default = (cwd or Path.cwd()) / DEFAULT_CONFIG_NAME
        if not default.is_file():
            return TopologyFile()
        path = default
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from None
    return parse_config(text, str(path))


def _groups(value: object) -> dict[str, object]:
    """A per-group setting's table (a checked one is a dict; anything else: none)."""
    return dict(value) if isinstance(value, dict) else {}


def merge_settings(file: TopologyFile, flags: Mapping[str, object]) -> dict[str, object]:
    """``TopologyConfig``'s settings by field: the file's (its application as ``app``),
    overridden by ``flags``.

    ``flags`` holds only what was given on the command line. Per-group tables
    (``delays``, ``replicas``) merge group by group. A server URL from the flags
    (``--server-url``/``RESONATE_URL``) means ``server_kind = "external"``; a
    server kind from the flags drops the file's URL. ``--server-url`` together
    with ``--server`` is a :class:`UsageError`.
    """
    merged: dict[str, object] = {} if file.app is None else {"app": file.app}
    merged.update(file.settings)
    for key in ("delays", "replicas"):
        if key in flags:
            merged[key] = {**_groups(file.settings.get(key)), **_groups(flags[key])}
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
