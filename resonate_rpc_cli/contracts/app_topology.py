"""A declared application: its groups and its flows, as typed records (issue 19).

A topology file (``rpcdemo.toml``) may declare ``[app]``, ``[groups.NAME]`` and
``[flows.NAME]`` tables (docs/own-app.md; the format is ``contracts/app_parse.py``'s).
They become one :class:`AppTopology`: a :class:`GroupSpec` per group (how one node is
started and how its readiness is known) and a :class:`FlowSpec` per flow (how one run
is started and what a correct one returns). The records are frozen and plain data:
they travel to the supervisor inside ``TopologyConfig``'s JSON (:meth:`AppTopology.to_dict`
in its ``to_json``, read back by :meth:`AppTopology.from_dict`) and come back in every
``status``.

A file with groups describes the whole application: the seed's services are not
started with it. No groups: the seed, the built-in topology (``topologies/seed.toml``).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict

from resonate_rpc_cli.contracts.record import Record

#: how a node's readiness is known (the first is the default)
READY_KINDS = ("listener", "log", "http", "delay")
LISTENER, LOG, HTTP, DELAY = READY_KINDS
DEFAULT_READY_TIMEOUT_S = 30.0
#: a group name: what Resonate routes on (``poll://any@GROUP``); lower case, as the real
#: server lower-cases URL hosts
GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: names rpcdemo gives its own parts; no declared group may take them (``gateway`` may be
#: declared: the seed's gateway, one node)
RESERVED_GROUPS = ("server",)
#: the methods an HTTP flow may use
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: the kinds of flow
RPC_FLOW, HTTP_FLOW = "rpc", "http"


class Readiness(Record):
    """How a node of a group is known to be ready.

    ``listener``: the node's SDK listener is connected (the embedded server lists it
    under the group); ``log``: a line of its output matches ``pattern``; ``http``: ``url``
    answers 200; ``delay``: ``delay_s`` after the start.
    """

    kind: str = LISTENER
    pattern: str = ""
    url: str = ""
    delay_s: float = 0.0

    def __str__(self) -> str:
        detail = {LOG: self.pattern, HTTP: self.url, DELAY: f"{self.delay_s:g}s"}.get(self.kind)
        return f"{self.kind}:{detail}" if detail is not None else self.kind


class GroupSpec(Record):
    """One group: the command that starts one node, and everything around it.

    ``command`` is argv (no shell); ``cwd`` is absolute; ``env`` is added to what
    rpcdemo gives every node; a node that is not ready within ``ready_timeout_s`` of
    its start fails ``up`` (exit 3).
    """

    name: str
    command: tuple[str, ...]
    cwd: str
    replicas: int = 1
    env: tuple[tuple[str, str], ...] = ()
    ready: Readiness = Readiness()
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.env)


class FlowSpec(Record):
    """One flow: how a run is started, with which arguments, and what it must return.

    ``kind`` ``rpc``: ``function`` registered in ``group``, invoked through the server
    as the SDK's ``rpc`` does (``args`` positional); ``http``: ``method`` ``url`` with
    ``body`` as JSON, the response's JSON is the value. ``expect`` is the value of a
    correct run when ``has_expect`` (any JSON, ``null`` included).
    """

    name: str
    kind: str
    function: str = ""
    group: str = ""
    args: tuple[Any, ...] = ()
    method: str = ""
    url: str = ""
    body: Any = None
    expect: Any = None
    has_expect: bool = False

    def describe(self) -> str:
        """``place_order@orders("o-1", 3)`` or ``POST http://…/orders``."""
        if self.kind == HTTP_FLOW:
            return f"{self.method} {self.url}"
        args = ", ".join(_json_text(a) for a in self.args)
        return f"{self.function}@{self.group}({args})"


class AppTopology(Record):
    """A declared application: its name, the file it came from, its groups and flows."""

    name: str
    source: str
    groups: tuple[GroupSpec, ...]
    flows: tuple[FlowSpec, ...] = ()

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)

    @property
    def flow_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.flows)

    def group(self, name: str) -> GroupSpec | None:
        return next((g for g in self.groups if g.name == name), None)

    def flow(self, name: str) -> FlowSpec | None:
        return next((f for f in self.flows if f.name == name), None)

    def to_dict(self) -> AppTopologyJson:
        """The record as the config's JSON holds it: what ``dataclasses.asdict`` gave when
        these were dataclasses (every field, nested records as dicts), with lists for
        tuples as a JSON round trip gives them."""
        return {
            "name": self.name, "source": self.source,
            "groups": [{"name": g.name, "command": list(g.command), "cwd": g.cwd,
                        "replicas": g.replicas, "env": [list(pair) for pair in g.env],
                        "ready": {"kind": g.ready.kind, "pattern": g.ready.pattern,
                                  "url": g.ready.url, "delay_s": g.ready.delay_s},
                        "ready_timeout_s": g.ready_timeout_s} for g in self.groups],
            "flows": [{"name": f.name, "kind": f.kind, "function": f.function,
                       "group": f.group, "args": list(f.args), "method": f.method,
                       "url": f.url, "body": f.body, "expect": f.expect,
                       "has_expect": f.has_expect} for f in self.flows],
        }

    @classmethod
    def from_dict(cls, obj: AppTopologyJson) -> AppTopology:
        """The record as the config's JSON holds it (:meth:`to_dict`)."""
        groups = tuple(
            GroupSpec(name=g["name"], command=tuple(g["command"]), cwd=g["cwd"],
                      replicas=int(g["replicas"]),
                      env=tuple((str(k), str(v)) for k, v in g["env"]),
                      ready=Readiness(**g["ready"]), ready_timeout_s=float(g["ready_timeout_s"]))
            for g in obj["groups"])
        flows = tuple(FlowSpec(name=f["name"], kind=f["kind"], function=f["function"],
                               group=f["group"], args=tuple(f["args"]), method=f["method"],
                               url=f["url"], body=f["body"], expect=f["expect"],
                               has_expect=f["has_expect"]) for f in obj["flows"])
        return cls(name=str(obj["name"]), source=str(obj["source"]), groups=groups, flows=flows)


class ReadinessJson(TypedDict):
    kind: str
    pattern: str
    url: str
    delay_s: float


class GroupSpecJson(TypedDict):
    name: str
    command: list[str]
    cwd: str
    replicas: int
    env: list[list[str]]
    ready: ReadinessJson
    ready_timeout_s: float


class FlowSpecJson(TypedDict):
    name: str
    kind: str
    function: str
    group: str
    args: list[Any]
    method: str
    url: str
    body: Any
    expect: Any
    has_expect: bool


class AppTopologyJson(TypedDict):
    """An :class:`AppTopology` in the topology config's JSON (``TopologyConfig.to_json``)."""

    name: str
    source: str
    groups: list[GroupSpecJson]
    flows: list[FlowSpecJson]


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
