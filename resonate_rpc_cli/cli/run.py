"""`run`: one flow through the gateway."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from resonate_rpc_cli.cli.common import (
    JsonOpt,
    app,
    emit_json,
    exit_on_error,
    home_of,
)
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, UsageError
from resonate_rpc_cli.contracts.flows import flow_named
from resonate_rpc_cli.contracts.home import Endpoints, Home

if TYPE_CHECKING:
    from resonate_rpc_cli.contracts.app_topology import AppTopology

#: seconds `run` waits for the result (the flow runner and Rich load when a flow runs)
DEFAULT_TIMEOUT_S = 60.0

# -- flows -----------------------------------------------------------------------------


@app.command()
@exit_on_error
def run(
    ctx: typer.Context,
    *,
    flow: Annotated[str, typer.Argument(help="await-chain, detached-chain or fan-out.")],
    promise_id: Annotated[str | None, typer.Option("--id", help="Promise id of the root.")]
        = None,
    fresh: Annotated[bool, typer.Option(help="Use a new unique promise id.")] = False,
    arg: Annotated[int, typer.Option(help="Argument of the root function.")] = 1,
    wait: Annotated[bool, typer.Option(help="Detached chain: wait until cog has run "
        "and report its value (asked of the server, so the nodes may run anywhere).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")]
        = DEFAULT_TIMEOUT_S,
    as_json: JsonOpt = False,
) -> None:
    """Run one flow through the gateway and print its result (exit 1 if it fails).

    On a declared application (a topology file with [flows.NAME]) FLOW is one of its
    flows: started through the server as the SDK's rpc does (or its http route), waited
    for, its value printed; exit 1 if it is rejected, differs from its `expect` or does
    not settle within --timeout.
    """
    from resonate_rpc_cli.observe import flowrun

    home = home_of(ctx)
    declared = _declared_app(home)
    if declared is not None:
        _run_declared(*declared, flow, promise_id, timeout, as_json)
        return
    try:
        chosen = flow_named(flow)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    pid = flowrun.choose_id(chosen, promise_id, fresh)
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    outcome = flowrun.run_in(home, chosen, pid, arg=arg, wait=wait, timeout_s=timeout)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        from resonate_rpc_cli.view.console import out
        from resonate_rpc_cli.view.render import run_view

        out.print(run_view(outcome.to_dict()))
    if outcome.exit_status is not ExitStatus.OK:
        raise typer.Exit(int(outcome.exit_status))




def _declared_app(home: Home) -> tuple[AppTopology, str] | None:
    """The running topology's declared application and server URL, or None (the seed, or
    nothing runs: the seed's path says so)."""
    from resonate_rpc_cli.supervisor.client import SupervisorClient

    where = Endpoints.read(home)
    if where is None or where.app is None:  # the seed (or nothing runs): its path says so
        return None
    try:
        config = SupervisorClient(home).status().config
    except NotRunningError:
        return None
    return None if config.app is None else (config.app, config.server_url)


def _run_declared(app_topology: AppTopology, server_url: str, name: str,
                  promise_id: str | None, timeout: float, as_json: bool) -> None:
    from resonate_rpc_cli.clients.app_flows import run_declared
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
        outcome = run_declared(flow, server_url, promise_id=promise_id, timeout_s=timeout)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    except ProtocolError as exc:
        raise NotRunningError(f"the server refused flow {name}: {exc}") from None
    if as_json:
        emit_json(outcome.to_dict())
    else:
        typer.echo(json.dumps(outcome.value))
    if outcome.ok:
        return
    if not outcome.settled:
        why = f"flow {name} did not settle within {timeout:g}s (promise {outcome.promise_id})"
    elif outcome.expected is False:
        why = f"flow {name} answered {json.dumps(outcome.value)}, expected " \
              f"{json.dumps(flow.expect)}"
    else:
        why = f"flow {name} ended {outcome.state}: {json.dumps(outcome.value)}"
    typer.echo(f"rpcdemo: {why}", err=True)
    raise typer.Exit(int(ExitStatus.FAILED))
