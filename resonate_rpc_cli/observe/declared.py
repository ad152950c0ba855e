"""A declared application's flow, run on the topology that runs under a HOME (issue 19).

The one path every front end takes to run a declared flow: ``rpcdemo run FLOW``
(``cli/declared_run.py`` renders it) and the live view's ``f`` key and the browser
console's run button (``observe/actions.py``'s ``run``). :func:`declared_app` says
whether a declared application runs (and where its server is); :func:`run_flow` starts
one flow through :func:`~resonate_rpc_cli.clients.app_flows.run_declared` and waits for
its outcome; :func:`flow_for_root` finds the declared flow a root promise id belongs to;
:func:`failure` is the sentence for an outcome that is not right.

Failures the user can cause are :class:`UsageError` (an unknown flow, naming the
declared ones; a bad id or timeout) and :class:`NotRunningError` (the server cannot be
reached or refuses the flow), each one line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from resonate_rpc_cli.clients.app_flows import DeclaredOutcome
from resonate_rpc_cli.clients.app_flows import run_declared as start_and_wait
from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.home import Endpoints, Home
from resonate_rpc_cli.contracts.ids import root_id_problem

if TYPE_CHECKING:
    from resonate_rpc_cli.contracts.app_topology import AppTopology, FlowSpec

#: how long the views' run action waits for a flow (``rpcdemo run``'s default --timeout)
TIMEOUT_S = 60.0


def declared_app(home: Home) -> tuple[AppTopology, str] | None:
    """The running topology's declared application and server URL, or None (the seed, or
    nothing runs: the seed's path says so)."""
    where = Endpoints.read(home)
    if where is None or where.app is None:
        return None
    from resonate_rpc_cli.supervisor.client import SupervisorClient  # noqa: PLC0415

    try:
        config = SupervisorClient(home).status().config
    except NotRunningError:
        return None
    return None if config.app is None else (config.app, config.server_url)


def flow_for_root(app: AppTopology, root: str) -> FlowSpec | None:
    """The declared flow whose root promise ``root`` is: its name (the row the views pin)
    or a run's id (``place-order-3f9c…``, :func:`~resonate_rpc_cli.clients.app_flows.
    new_promise_id`); the longest name wins. None: no declared flow's."""
    matches = [f for f in app.flows if root == f.name or root.startswith(f.name + "-")]
    return max(matches, key=lambda f: len(f.name), default=None)


def run_flow(app: AppTopology, server_url: str, name: str, promise_id: str | None,
             timeout: float) -> DeclaredOutcome:
    """Run the declared flow ``name`` (a fresh id unless ``promise_id``) and wait up to
    ``timeout`` s for it to settle; its outcome (``pending`` if it did not)."""
    flow = app.flow(name)
    if flow is None:
        valid = ", ".join(app.flow_names) or "none"
        raise UsageError(f"unknown flow {name!r}; {app.source} declares: {valid}")
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    problem = root_id_problem(promise_id) if promise_id is not None else None
    if problem:
        raise UsageError(f"--id {problem}")
    try:
        return start_and_wait(flow, server_url, promise_id=promise_id, timeout_s=timeout)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    except ProtocolError as exc:
        raise NotRunningError(f"the server refused flow {name}: {exc}") from None


def failure(flow: FlowSpec, outcome: DeclaredOutcome, timeout: float) -> str | None:
    """Why ``outcome`` is not a right run of ``flow`` (one sentence), or None when it is."""
    if outcome.ok:
        return None
    if not outcome.settled:
        return f"flow {flow.name} did not settle within {timeout:g}s " \
               f"(promise {outcome.promise_id})"
    if outcome.expected is False:
        return f"flow {flow.name} answered {json.dumps(outcome.value, default=str)}, " \
               f"expected {json.dumps(flow.expect, default=str)}"
    return f"flow {flow.name} ended {outcome.state}: {json.dumps(outcome.value, default=str)}"


def summary(flow: FlowSpec, outcome: DeclaredOutcome, timeout: float = TIMEOUT_S) -> str:
    """One line for the views, as the seed's run shows one: ``place-order [id] resolved =
    VALUE in 812 ms (as expected)``, or ending with :func:`failure`'s sentence."""
    value = f" = {json.dumps(outcome.value, default=str)}" if outcome.settled else ""
    why = failure(flow, outcome, timeout)
    judged = f": {why}" if why else " (as expected)" if outcome.expected else ""
    return f"{flow.name} [{outcome.promise_id or '-'}] {outcome.state}{value} in " \
           f"{outcome.elapsed_ms} ms{judged}"


__all__ = ["TIMEOUT_S", "declared_app", "failure", "flow_for_root", "run_flow", "summary"]
