"""The console's buttons: ``POST /api/action`` bodies, performed by the actions core.

:func:`parse_action` checks the JSON body (``{"action", "target", "value"?}``)
against the actions the core declares (``observe/actions.py``: the same
table the terminal's keys read) and :class:`Actor` performs it through
:func:`~resonate_rpc_cli.observe.actions.perform`, the supervisor client and
the server calls the CLI makes: no second code path. A refusal becomes
:class:`ActionError` carrying the HTTP status to answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resonate_rpc_cli.contracts.errors import ExitStatus
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.action_json import DoneJson
from resonate_rpc_cli.observe.actions import ACTIONS, Refused, perform

NAMES = tuple(a.name for a in ACTIONS)
#: a refusal's exit status → the HTTP status the page gets
HTTP_STATUS = {int(ExitStatus.USAGE): 400, int(ExitStatus.NOT_RUNNING): 503}


class ActionError(Exception):
    """An action refused or failed; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ActionCall:
    """One button press: which action, on which node, group, flow root or promise id, and
    the value it asks for (a count, a flow's argument, a JSON value) as the user typed it."""

    action: str
    target: str
    value: str | None = None


def parse_action(body: Any) -> ActionCall:
    """The :class:`ActionCall` ``body`` asks for; :class:`ActionError` (400) naming the fault."""
    if not isinstance(body, dict):
        raise ActionError("the body must be a JSON object")
    action, target, value = body.get("action"), body.get("target"), body.get("value")
    if action not in NAMES:
        raise ActionError(f"unknown action {action!r}; one of {', '.join(NAMES)}")
    if not isinstance(target, str) or not target or len(target) > 300:
        raise ActionError("the action needs a target (a node, group, flow or promise id)")
    if value is not None and not isinstance(value, str):
        raise ActionError("value must be a string (a number, or JSON text)")
    return ActionCall(action, target, value)


@dataclass(frozen=True)
class Actor:
    """Performs actions on the topology under ``home``."""

    home: Home

    def perform(self, call: ActionCall) -> DoneJson:
        """Do ``call`` (blocking until its effect is seen); what changed, as JSON.

        Raises :class:`ActionError` with the core's one-line message when it was refused.
        """
        outcome = perform(self.home, call.action, call.target, call.value)
        if isinstance(outcome, Refused):
            raise ActionError(outcome.message, HTTP_STATUS.get(outcome.status, 409))
        return outcome.to_dict()
