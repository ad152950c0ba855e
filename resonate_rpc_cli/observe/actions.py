"""The operator's actions where they look (the terminal live view's keys, the browser
console's buttons), each declared once: what it applies to, its key, its label, and how
it is done.

Every action is done by the same call the CLI command makes (no second code path):
kill, pause and resume by :meth:`SupervisorClient.kill` (``rpcdemo kill [--respawn]
[--signal STOP|CONT]``), respawn and scale by :meth:`SupervisorClient.respawn` and
:meth:`SupervisorClient.scale`, a link's partition and heal by :mod:`.linkfaults`
(``rpcdemo net``), a flow by :func:`.flowrun.run_in` (``rpcdemo run --fresh``) or, when a
declared application runs, by :func:`.declared.run_flow` (``rpcdemo run FLOW``), a promise
or a call tree by :mod:`.settle` (``rpcdemo promise`` and ``rpcdemo flow cancel``).

:func:`perform` never raises for what the user can get wrong: it returns :class:`Done`
(what changed: the new nodes, the settled promise, the flow's outcome) or
:class:`Refused` (a one-line message and the exit status the CLI would have given).
:func:`actions_for` says which actions a row offers in its current state, so a view shows
only keys that can work; :func:`perform` does not rely on it (the supervisor and the
server refuse what no longer applies).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from resonate_rpc_cli.contracts.errors import ExitStatus, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.flows import FLOWS, Flow
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER
from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.observe import declared, flowrun, linkfaults
from resonate_rpc_cli.observe.action_json import ActionJson, DoneJson, RefusedJson, TargetJson
from resonate_rpc_cli.observe.flowrun import FlowOutcome
from resonate_rpc_cli.observe.settle import (
    FlowCanceled,
    PromiseView,
    cancel_flow,
    parse_value,
    settle_promise,
)
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.rows import Started
from resonate_rpc_cli.supervisor.states import RESPAWNABLE, SIGNALLABLE, NodeState
from resonate_rpc_cli.supervisor.topology_config import MAX_REPLICAS, check_replicas

if TYPE_CHECKING:
    from resonate_rpc_cli.clients.app_flows import DeclaredOutcome
    from resonate_rpc_cli.contracts.app_topology import AppTopology


class Kind(StrEnum):
    """What an action applies to."""

    NODE = "node"
    GROUP = "group"
    FLOW = "flow"
    PROMISE = "promise"


@dataclass(frozen=True)
class Target:
    """A row an action can apply to: its kind, its id (a node name, a group, a flow's root
    promise id, a promise id) and the state that decides which actions it offers."""

    kind: Kind
    id: str
    #: the node's, the root promise's or the promise's state ("" for a group)
    state: str = ""
    #: a node's link state ("ok", "partitioned", "delayed"); None without links
    link: str | None = None
    #: a group's nodes (not retiring)
    count: int = 0
    #: a flow row on a declared application: the declared flow its root belongs to (""
    #: none); None: the seed's flows decide (:func:`flow_of`). See :func:`flow_target`.
    flow: str | None = None

    @property
    def ref(self) -> str:
        """A stable key of the row, e.g. ``node:service-b-1`` (the selection keeps it)."""
        return f"{self.kind}:{self.id}"

    def to_dict(self) -> TargetJson:
        return {"kind": str(self.kind), "id": self.id, "state": self.state, "link": self.link,
                "count": self.count, "flow": self.flow}


@dataclass(frozen=True)
class Done:
    """An action that took effect: a one-line ``message`` and what changed."""

    action: str
    target: str
    message: str
    #: the incarnations started (kill with respawn, respawn, scale)
    nodes: tuple[Started, ...] = ()
    #: the promise after a resolve, reject or cancel
    promise: PromiseView | None = None
    #: how a flow run ended
    flow: FlowOutcome | None = None
    #: how a declared application's flow run ended
    declared: DeclaredOutcome | None = None
    #: what a flow cancel canceled and left
    canceled: FlowCanceled | None = None
    #: the links a partition or heal touched
    links: tuple[LinkStatus, ...] = ()
    ok: bool = True

    def to_dict(self) -> DoneJson:
        return {"ok": True, "action": self.action, "target": self.target,
                "message": self.message, "nodes": [n.to_dict() for n in self.nodes],
                "promise": self.promise.to_dict() if self.promise else None,
                "flow": self.flow.to_dict() if self.flow else
                self.declared.to_dict() if self.declared else None,
                "canceled": self.canceled.to_dict() if self.canceled else None,
                "links": [link.to_dict() for link in self.links]}


@dataclass(frozen=True)
class Refused:
    """An action that changed nothing: a one-line message and the CLI's exit status."""

    action: str
    target: str
    message: str
    status: int = int(ExitStatus.FAILED)
    ok: bool = False

    def to_dict(self) -> RefusedJson:
        return {"ok": False, "action": self.action, "target": self.target,
                "message": self.message, "status": self.status}


Outcome = Done | Refused
#: how an action is done: (home, target id, the value asked for or None) -> Done
Runner = Callable[[Home, str, str | None], Done]


@dataclass(frozen=True)
class Action:
    """One action: its stable ``name``, the ``kind`` of row it applies to, its ``key`` in
    the terminal view, its ``label`` (footer, buttons), when a row offers it, how it is
    done, and ``ask``: the prompt for a value it needs (None: it needs none)."""

    name: str
    kind: Kind
    key: str
    label: str
    help: str
    offered: Callable[[Target], bool]
    run: Runner
    ask: str | None = None

    def to_dict(self) -> ActionJson:
        return {"name": self.name, "kind": str(self.kind), "key": self.key,
                "label": self.label, "help": self.help, "ask": self.ask}


# -- how each is done ------------------------------------------------------------------


def _started(nodes: list[Started]) -> str:
    return ", ".join(f"{n.name} (pid {n.pid})" for n in nodes)


def _signal(name: str, sig: str, verb: str) -> Runner:
    def run(home: Home, target: str, value: str | None) -> Done:
        answer = SupervisorClient(home).kill(target, sig)
        done = ", ".join(f"{k.name} (pid {k.pid})" for k in answer.killed)
        return Done(name, target, f"{verb} {done}")
    return run


def _kill_respawn(home: Home, target: str, value: str | None) -> Done:
    answer = SupervisorClient(home).kill(target, "KILL", respawn=True)
    killed = ", ".join(f"{k.name} (pid {k.pid})" for k in answer.killed)
    return Done("kill-respawn", target,
                f"killed {killed}; respawned {_started(answer.respawned)}",
                nodes=tuple(answer.respawned))


def _respawn(home: Home, target: str, value: str | None) -> Done:
    result = SupervisorClient(home).respawn(target)
    return Done("respawn", target, f"respawned {_started(result.running)}",
                nodes=tuple(result.running))


def _partition(home: Home, target: str, value: str | None) -> Done:
    links = linkfaults.partition(home, target)
    return Done("partition", target, f"partitioned the link of {_names(links)}",
                links=tuple(links))


def _heal_link(home: Home, target: str, value: str | None) -> Done:
    links = linkfaults.heal(home, target)
    return Done("heal-link", target, f"healed the link of {_names(links)}", links=tuple(links))


def _names(links: list[LinkStatus]) -> str:
    return ", ".join(link.node for link in links)


def _scale_to(home: Home, group: str, count: int, name: str) -> Done:
    check_replicas(group, count, (group,))  # the count here; the group by the supervisor
    result = SupervisorClient(home).scale(group, count)
    nodes = tuple(Started(n.name, n.pid, n.node_id) for n in result.nodes if n.pid)
    changed = "; ".join(part for part in (
        f"started {', '.join(result.added)}" if result.added else "",
        f"stopped {', '.join(result.removed)}" if result.removed else "",
        f"respawned {', '.join(result.respawned)}" if result.respawned else "") if part)
    return Done(name, group, f"{group}: {count} node(s)" + (f"; {changed}" if changed else ""),
                nodes=nodes)


def _scale(home: Home, group: str, value: str | None) -> Done:
    text = (value or "").strip()
    if not text.isdigit():
        raise UsageError(f"nodes of {group}: a whole number from 0 to {MAX_REPLICAS}, "
                         f"got {text!r}")
    return _scale_to(home, group, int(text), "scale")


def _scale_by(step: int, name: str) -> Runner:
    def run(home: Home, group: str, value: str | None) -> Done:
        now = [n for n in SupervisorClient(home).status().in_group(group) if not n.retiring]
        return _scale_to(home, group, max(0, len(now) + step), name)
    return run


def _run_flow(home: Home, root: str, value: str | None) -> Done:
    running = declared.declared_app(home)
    if running is not None:
        return _run_declared(*running, root)
    flow = flow_of(root)
    if flow is None:
        raise UsageError(f"{root} is not the root of a flow this topology runs")
    arg = 1 if not (value or "").strip() else _int_arg(str(value))
    outcome = flowrun.run_in(home, flow, flowrun.choose_id(flow, None, fresh=True), arg=arg)
    result = f" = {outcome.result}" if outcome.result is not None else ""
    return Done("run", root, f"{flow.name} [{outcome.promise_id}] {outcome.state}{result} "
                f"in {outcome.elapsed_ms} ms", flow=outcome)


def _run_declared(app: AppTopology, server_url: str, root: str) -> Done:
    """The declared flow ``root`` belongs to, under a fresh id with its declared arguments
    (a value typed for the seed's argument does not apply)."""
    spec = declared.flow_for_root(app, root)
    if spec is None:
        raise UsageError(f"{root} is not the root of a flow {app.source} declares "
                         f"({', '.join(app.flow_names) or 'none'})")
    outcome = declared.run_flow(app, server_url, spec.name, None, declared.TIMEOUT_S)
    return Done("run", root, declared.summary(spec, outcome), declared=outcome)


def _int_arg(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UsageError(f"the flow's argument is a whole number, got {text!r}") from None


def _cancel_flow(home: Home, root: str, value: str | None) -> Done:
    done = cancel_flow(home, root, "canceled by rpcdemo")
    return Done("cancel-flow", root, f"canceled {len(done.canceled)} pending promise(s) of "
                f"{root}; {len(done.left)} settled left as they were", canceled=done)


def _settle(action: str) -> Runner:
    def run(home: Home, promise_id: str, value: str | None) -> Done:
        text = value if value is not None and value.strip() else None
        done = settle_promise(home, promise_id, action, parse_value(text))
        shown = "" if done.promise.value is None else \
            f" = {json.dumps(done.promise.value, default=str)}"
        return Done(action, promise_id, f"{promise_id} {done.promise.state}{shown}",
                    promise=done.promise)
    return run


# -- when a row offers it --------------------------------------------------------------


def _in(states: frozenset[NodeState]) -> Callable[[Target], bool]:
    return lambda t: t.state in states


def _pausable(t: Target) -> bool:
    return t.state in (NodeState.STARTING, NodeState.READY)


def _linked(t: Target) -> bool:
    return t.link == "ok"


def _broken(t: Target) -> bool:
    return t.link is not None and t.link != "ok"


def _service(t: Target) -> bool:
    """A group of workers (the seed's services, a declared application's groups): not the
    server, not the seed's one gateway."""
    return t.id not in (SERVER, GATEWAY)


def _pending(t: Target) -> bool:
    return t.state == "pending"


def _runnable(t: Target) -> bool:
    return bool(t.flow) if t.flow is not None else flow_of(t.id) is not None


def flow_target(root: str, state: str = "", app: AppTopology | None = None) -> Target:
    """The row of the flow rooted at ``root``: on a declared application ``app`` it runs
    the declared flow the root belongs to (or none), else the seed's."""
    if app is None:
        return Target(Kind.FLOW, root, state)
    spec = declared.flow_for_root(app, root)
    return Target(Kind.FLOW, root, state, flow=spec.name if spec is not None else "")


def flow_of(root: str) -> Flow | None:
    """The flow whose root promise ``root`` is: a seed id (``await-chain``), a fresh one
    (``await-chain-3db3…``), or None."""
    for flow in FLOWS.values():
        if root == flow.promise_id or root.startswith(flow.promise_id + "-"):
            return flow
    return None


ACTIONS: tuple[Action, ...] = (
    Action("kill", Kind.NODE, "x", "kill", "SIGKILL the node; it stays down until respawned",
           _in(SIGNALLABLE), _signal("kill", "KILL", "killed")),
    Action("kill-respawn", Kind.NODE, "X", "kill+respawn",
           "SIGKILL the node and start a new incarnation (new node id) in its place",
           _in(SIGNALLABLE), _kill_respawn),
    Action("respawn", Kind.NODE, "r", "respawn", "start a new incarnation of a node that is down",
           _in(RESPAWNABLE), _respawn),
    Action("pause", Kind.NODE, "p", "pause", "SIGSTOP the node (alive, frozen)", _pausable,
           _signal("pause", "STOP", "paused")),
    Action("resume", Kind.NODE, "p", "resume", "SIGCONT a paused node",
           _in(frozenset({NodeState.PAUSED})), _signal("resume", "CONT", "resumed")),
    Action("partition", Kind.NODE, "n", "partition",
           "cut the node's link to the server both ways (until healed)", _linked, _partition),
    Action("heal-link", Kind.NODE, "n", "heal link", "clear every fault on the node's link",
           _broken, _heal_link),
    Action("scale-up", Kind.GROUP, "+", "scale +1", "one more node in the group", _service,
           _scale_by(1, "scale-up")),
    Action("scale-down", Kind.GROUP, "-", "scale -1", "one node fewer in the group (TERM)",
           lambda t: _service(t) and t.count > 0, _scale_by(-1, "scale-down")),
    Action("scale", Kind.GROUP, "s", "scale…", "run this many nodes of the group", _service,
           _scale, ask=f"nodes (0..{MAX_REPLICAS})"),
    Action("run", Kind.FLOW, "f", "run",
           "run the flow again under a fresh id (argument 1, or the value given; a declared "
           "flow: its declared arguments)", _runnable, _run_flow),
    Action("cancel-flow", Kind.FLOW, "c", "cancel flow",
           "cancel the pending promises of this call tree; the settled ones stay", _pending,
           _cancel_flow),
    Action("resolve", Kind.PROMISE, "v", "resolve…",
           "resolve the pending promise (its awaiter resumes with the value)", _pending,
           _settle("resolve"), ask="value as JSON (empty: none)"),
    Action("reject", Kind.PROMISE, "e", "reject…", "reject the pending promise (its awaiter "
           "raises)", _pending, _settle("reject"), ask="value as JSON (empty: an error)"),
    Action("cancel", Kind.PROMISE, "c", "cancel",
           "cancel the pending promise (rejected_canceled)", _pending, _settle("cancel")),
)
_BY_NAME = {a.name: a for a in ACTIONS}


def action_named(name: str) -> Action:
    """The action called ``name``; UsageError naming the valid ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UsageError(f"unknown action {name!r}; valid: {', '.join(_BY_NAME)}") from None


def actions_for(*targets: Target) -> list[tuple[Action, Target]]:
    """The actions ``targets`` offer now (a node row offers its own and its group's), in
    declaration order, each with the target it applies to."""
    return [(a, t) for t in targets for a in ACTIONS if a.kind is t.kind and a.offered(t)]


def perform(home: Home, name: str, target: str, value: str | None = None) -> Outcome:
    """Do action ``name`` on ``target`` (its id) with ``value`` (when it asks for one).

    Blocks until the effect is seen (a respawned node runs, a group has its size, a flow
    answered): call it off the thread that draws. Returns :class:`Refused` with the
    one-line message and exit status of any :class:`RpcdemoError`.
    """
    try:
        return action_named(name).run(home, target, value)
    except RpcdemoError as exc:
        return Refused(name, target, str(exc), int(exc.status))


__all__ = ["ACTIONS", "Action", "Done", "Kind", "Outcome", "Refused", "Target", "action_named",
           "actions_for", "flow_of", "flow_target", "perform"]
