"""The ``[app]``, ``[groups.NAME]`` and ``[flows.NAME]`` tables of a topology file.

``cli/topology_file.py`` reads the file and hands the tables here; the seed's own
topology (``topologies/seed.toml``, package data) goes through the same function.
Every problem is one :class:`UsageError` line naming the file (and the line where the
table starts), the key and what is wrong, e.g.::

    rpcdemo.toml:7: groups.orders.command is missing (the command that starts one node, ...)
    rpcdemo.toml:12: flows.pay.group names "billing", which is not declared (groups: orders)
    rpcdemo.toml:9: [groups.orders] is declared twice

Format (docs/own-app.md)::

    [app]
    name = "order-saga"                 # default: the file's folder name
    [groups.orders]
    command = ["python", "-m", "orders.worker"]   # or one string, split like a shell
    replicas = 1
    cwd = "."                           # relative to the file's folder
    env = { LOG_LEVEL = "info" }
    ready = "listener"                  # | "log:REGEX" | "http:URL" | "delay:2s"
    ready_timeout = "30s"
    [flows.place-order]
    function = "place_order"
    group = "orders"
    args = ["o-1", 3]
    expect = { status = "confirmed" }
    # or: http = "POST http://127.0.0.1:8080/orders"  with  body = { ... }
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

from resonate_rpc_cli.contracts import values as cv
from resonate_rpc_cli.contracts.app_topology import (
    DELAY,
    GROUP_NAME,
    HTTP,
    HTTP_FLOW,
    HTTP_METHODS,
    LISTENER,
    LOG,
    READY_KINDS,
    RESERVED_GROUPS,
    RPC_FLOW,
    AppTopology,
    FlowSpec,
    GroupSpec,
    Readiness,
)
from resonate_rpc_cli.contracts.errors import UsageError

#: the tables this module owns in a topology file
APP_TABLES = ("app", "groups", "flows")
MAX_REPLICAS = 16
GROUP_KEYS = ("command", "replicas", "cwd", "env", "ready", "ready_timeout")
FLOW_KEYS = ("function", "group", "args", "expect", "http", "body")
APP_KEYS = ("name",)
COMMAND_EXAMPLE = 'e.g. command = ["python", "-m", "orders.worker"]'
_DUPLICATE = re.compile(r"Cannot declare \((.*)\) twice \(at line (\d+)")
_OVERWRITE = re.compile(r"Cannot overwrite a value \(at line (\d+)")


def toml_problem(exc: tomllib.TOMLDecodeError, source: str) -> UsageError:
    """One line for a file tomllib refused; a table or key given twice says so."""
    text = str(exc)
    twice = _DUPLICATE.search(text)
    if twice:
        table = ".".join(part.strip().strip("'\"") for part in twice.group(1).split(","))
        what = f"group [{table}]" if table.startswith("groups.") else f"table [{table}]"
        return UsageError(f"{source}:{twice.group(2)}: {what} is declared twice")
    again = _OVERWRITE.search(text)
    if again:
        return UsageError(f"{source}:{again.group(1)}: a key is given twice")
    return UsageError(f"{source}: not valid TOML: {text}")


def parse_app(doc: dict[str, object], text: str, source: str, folder: Path,
              ) -> AppTopology | None:
    """The application the ``app``/``groups``/``flows`` tables of ``doc`` declare, or None
    when it declares no groups (the seed runs). ``text`` is the file's (for line numbers),
    ``folder`` the file's folder (``cwd`` is relative to it). A group named ``gateway`` is
    the seed's one-node gateway (its port and host settings reach it). :class:`UsageError`
    (one line) for any problem."""
    where = _Where(text, source)
    app = _table(doc.get("app", {}), "app", where.at("app"))
    groups_doc = _table(doc.get("groups", {}), "groups", where.at("groups"))
    flows_doc = _table(doc.get("flows", {}), "flows", where.at("flows"))
    if not groups_doc:
        for key, label in (("flows", "[flows.*]"), ("app", "[app]")):
            if doc.get(key):
                raise UsageError(f"{where.at(key)}: {label} needs the groups of the application "
                                 f"declared as [groups.NAME] (none are)")
        return None
    _known(app, APP_KEYS, "app", where.at("app"))
    name = app.get("name", folder.name or "app")
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"{where.at('app')}: app.name must be a non-empty string, got {name!r}")
    groups = tuple(_group(g, body, folder, where) for g, body in groups_doc.items())
    declared = tuple(g.name for g in groups)
    flows = tuple(_flow(f, body, declared, where) for f, body in flows_doc.items())
    return AppTopology(name=name.strip(), source=source, groups=groups, flows=flows)


class _Where:
    """``FILE:LINE`` of a table's header, for the messages."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def at(self, table: str) -> str:
        head, _, name = table.partition(".")
        quoted = rf"(?:{re.escape(name)}|\"{re.escape(name)}\"|'{re.escape(name)}')"
        pattern = re.compile(rf"^\s*\[\s*{re.escape(head)}\s*\.\s*{quoted}\s*\]" if name
                             else rf"^\s*\[\s*{re.escape(head)}\s*\]")
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return f"{self.source}:{number}"
        return self.source


def _table(value: object, name: str, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        example = name if name == "app" else f"{name}.NAME"
        raise UsageError(f"{where}: {name} must be a table, e.g. [{example}]")
    return value


def _known(body: dict[str, object], keys: tuple[str, ...], label: str, where: str) -> None:
    for key in body:
        if key not in keys:
            raise UsageError(f"{where}: unknown key {label}.{key} (valid: {', '.join(keys)})")


def _group(name: str, body: Any, folder: Path, where: _Where) -> GroupSpec:
    label = f"groups.{name}"
    at = where.at(label)
    if not isinstance(body, dict):
        raise UsageError(f"{at}: {label} must be a table, e.g. [{label}] with a command")
    if not GROUP_NAME.match(name):
        raise UsageError(f"{at}: [{label}]: a group name is lower-case letters, digits, - and _ "
                         f"(Resonate routes on it), got {name!r}")
    if name in RESERVED_GROUPS:
        raise UsageError(f"{at}: [{label}]: {name!r} is rpcdemo's own node; name the group "
                         "otherwise")
    _known(body, GROUP_KEYS, label, at)
    if "command" not in body:
        raise UsageError(f"{at}: {label}.command is missing (the command that starts one "
                         f"node, {COMMAND_EXAMPLE})")
    replicas = body.get("replicas", 1)
    cv.checked(f"{at}: {label}.replicas", cv.whole(1, MAX_REPLICAS), replicas)
    timeout = cv.checked(f"{at}: {label}.ready_timeout", cv.duration,
                         body.get("ready_timeout", 30.0))
    return GroupSpec(name=name, command=_command(body["command"], f"{at}: {label}.command"),
                     cwd=_cwd(body.get("cwd", "."), folder, f"{at}: {label}.cwd"),
                     replicas=replicas, env=_env(body.get("env", {}), f"{at}: {label}.env"),
                     ready=_readiness(body.get("ready", LISTENER), f"{at}: {label}.ready"),
                     ready_timeout_s=timeout)


def _command(value: Any, label: str) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise UsageError(f"{label}: cannot split {value!r}: {exc}") from None
    elif isinstance(value, list) and all(isinstance(a, str) for a in value):
        argv = list(value)
    else:
        raise UsageError(f"{label} must be a list of strings or one string, got {value!r}")
    if not argv or not argv[0].strip():
        raise UsageError(f"{label} is empty ({COMMAND_EXAMPLE})")
    return tuple(argv)


def _cwd(value: Any, folder: Path, label: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{label} must be a folder path, got {value!r}")
    path = (folder / value).resolve()
    if not path.is_dir():
        raise UsageError(f"{label}: no such folder: {path}")
    return str(path)


def _env(value: Any, label: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise UsageError(f"{label} must be a table of NAME = \"value\", got {value!r}")
    out = []
    for key, raw in value.items():
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise UsageError(f"{label}.{key} must be a string or a number, got {raw!r}")
        out.append((key, str(raw)))
    return tuple(out)


def parse_readiness(value: Any) -> Readiness:
    """``listener`` | ``log:REGEX`` | ``http:URL`` | ``delay:2s``; ``ValueError`` (the rule)."""
    rule = 'must be "listener", "log:REGEX", "http://…", "http:URL" or "delay:2s"'
    if not isinstance(value, str):
        raise ValueError(rule)
    kind, _, rest = value.partition(":")
    kind = kind.strip()
    if kind not in READY_KINDS or (kind == LISTENER) == bool(rest):
        raise ValueError(rule)
    if kind == LOG:
        try:
            re.compile(rest)
        except re.error as exc:
            raise ValueError(f"has a bad regular expression: {exc}") from None
        return Readiness(LOG, pattern=rest)
    if kind == HTTP:
        url = rest if rest.startswith(("http://", "https://")) else f"http:{rest}"
        if not url.startswith(("http://", "https://")):
            raise ValueError(rule)
        return Readiness(HTTP, url=url)
    if kind == DELAY:
        try:
            return Readiness(DELAY, delay_s=cv.duration(rest.strip()))
        except cv.BadValue as exc:
            raise ValueError(f"delay {exc}") from None
    return Readiness()


def _readiness(value: Any, label: str) -> Readiness:
    try:
        return parse_readiness(value)
    except ValueError as exc:
        raise UsageError(f"{label} {exc}, got {value!r}") from None


def _flow(name: str, body: Any, groups: tuple[str, ...], where: _Where) -> FlowSpec:
    label = f"flows.{name}"
    at = where.at(label)
    if not isinstance(body, dict):
        raise UsageError(f"{at}: {label} must be a table, e.g. [{label}] with function and group")
    _known(body, FLOW_KEYS, label, at)
    expect = {"expect": body["expect"], "has_expect": True} if "expect" in body else {}
    if "http" in body:
        for key in ("function", "group", "args"):
            if key in body:
                raise UsageError(f"{at}: {label}.{key} does not go with {label}.http (a flow is "
                                 "started by a function and its group, or by an HTTP route)")
        method, url = _route(body["http"], f"{at}: {label}.http")
        return FlowSpec(name, HTTP_FLOW, method=method, url=url, body=body.get("body"), **expect)
    if "body" in body:
        raise UsageError(f"{at}: {label}.body goes only with {label}.http")
    for key in ("function", "group"):
        if key not in body:
            raise UsageError(f"{at}: {label}.{key} is missing (a flow names a function and the "
                             "group that registers it, or an http route)")
        if not isinstance(body[key], str) or not body[key].strip():
            raise UsageError(f"{at}: {label}.{key} must be a non-empty string, got {body[key]!r}")
    if body["group"] not in groups:
        raise UsageError(f"{at}: {label}.group names {body['group']!r}, which is not declared "
                         f"(groups: {', '.join(groups)})")
    args = body.get("args", [])
    if not isinstance(args, list):
        raise UsageError(f"{at}: {label}.args must be a list, got {args!r}")
    return FlowSpec(name, RPC_FLOW, function=body["function"], group=body["group"],
                    args=tuple(args), **expect)


def _route(value: Any, label: str) -> tuple[str, str]:
    parts = value.split() if isinstance(value, str) else []
    if len(parts) == 1:
        parts = ["POST", *parts]
    if len(parts) != 2 or parts[0].upper() not in HTTP_METHODS or \
            not parts[1].startswith(("http://", "https://")):
        raise UsageError(f'{label} must be "METHOD http://HOST:PORT/PATH" (or a URL: POST), '
                         f"got {value!r}")
    return parts[0].upper(), parts[1]
