"""``rpcdemo run FLOW`` on a declared application (a topology file with ``[flows.NAME]``).

The flow is started through the server as the SDK's ``rpc`` does (or its http route,
``clients/app_flows.py``), waited for and its value printed. :func:`run_declared`
returns the exit code (1 if the flow is rejected, differs from its ``expect`` or does
not settle within the timeout) and raises :class:`UsageError` / :class:`NotRunningError`
for the one-line failures. Called by ``cli/everyday.py``'s ``run``, so the Typer command
and the quick path answer alike.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, UsageError
from resonate_rpc_cli.contracts.home import Endpoints, Home

if TYPE_CHECKING:
    from resonate_rpc_cli.contracts.app_topology import AppTopology


def declared_app(home: Home) -> tuple[AppTopology, str] | None:
    """The running topology's declared application and server URL, or None (the seed, or
    nothing runs: the seed's path says so)."""
    where = Endpoints.read(home)
    if where is None or where.app is None:
        return None
    from resonate_rpc_cli.supervisor.client import SupervisorClient

    try:
        config = SupervisorClient(home).status().config
    except NotRunningError:
        return None
    return None if config.app is None else (config.app, config.server_url)


def run_declared(app_topology: AppTopology, server_url: str, name: str,
                 promise_id: str | None, timeout: float, as_json: bool) -> int:
    """Run the declared flow ``name`` and print its value; the exit code."""
    from resonate_rpc_cli.clients.app_flows import run_declared as run_flow
    from resonate_rpc_cli.clients.protocol import ProtocolError, ServerUnreachable
    from resonate_rpc_cli.contracts.ids import root_id_problem

    flow = app_topology.flow(name)
    if flow is None:
        valid = ", ".join(app_topology.flow_names) or "none"
        raise UsageError(f"unknown flow {name!r}; {app_topology.source} declares: {valid}")
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    problem = root_id_problem(promise_id) if promise_id is not None else None
    if problem:
        raise UsageError(f"--id {problem}")
    try:
        outcome = run_flow(flow, server_url, promise_id=promise_id, timeout_s=timeout)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    except ProtocolError as exc:
        raise NotRunningError(f"the server refused flow {name}: {exc}") from None
    if as_json:
        print(json.dumps(outcome.to_dict(), indent=2, default=str))
    else:
        print(json.dumps(outcome.value))
    sys.stdout.flush()
    if outcome.ok:
        return int(ExitStatus.OK)
    if not outcome.settled:
        why = f"flow {name} did not settle within {timeout:g}s (promise {outcome.promise_id})"
    elif outcome.expected is False:
        why = f"flow {name} answered {json.dumps(outcome.value)}, expected " \
              f"{json.dumps(flow.expect)}"
    else:
        why = f"flow {name} ended {outcome.state}: {json.dumps(outcome.value)}"
    print(f"rpcdemo: {why}", file=sys.stderr)
    return int(ExitStatus.FAILED)
