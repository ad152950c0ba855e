"""The JSON shapes of :mod:`.actions`: an action, its target, and its answer (done or
refused), as the browser console's ``/api/document`` and ``POST /api/action`` carry them."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from resonate_rpc_cli.links.status import LinkStatusJson
from resonate_rpc_cli.observe.flowrun import FlowOutcomeJson
from resonate_rpc_cli.observe.settle import FlowCanceledJson, PromiseViewJson
from resonate_rpc_cli.supervisor.rows import StartedJson

if TYPE_CHECKING:
    from resonate_rpc_cli.clients.app_flows import DeclaredOutcomeJson


class TargetJson(TypedDict):
    kind: str
    id: str
    state: str
    link: str | None
    count: int
    flow: str | None


class DoneJson(TypedDict):
    """An action that took effect, as the console's ``POST /api/action`` answers it."""

    ok: bool
    action: str
    target: str
    message: str
    nodes: list[StartedJson]
    promise: PromiseViewJson | None
    flow: FlowOutcomeJson | DeclaredOutcomeJson | None
    canceled: FlowCanceledJson | None
    links: list[LinkStatusJson]


class RefusedJson(TypedDict):
    """An action that changed nothing, as the console's ``POST /api/action`` answers it."""

    ok: bool
    action: str
    target: str
    message: str
    status: int


class ActionJson(TypedDict):
    """An action as the console's page lists it."""

    name: str
    kind: str
    key: str
    label: str
    help: str
    ask: str | None
