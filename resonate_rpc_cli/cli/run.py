"""`run`: one flow through the gateway."""

from __future__ import annotations

from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import (
    JsonOpt,
    app,
    emit_json,
    exit_on_error,
    home_of,
)
from resonate_rpc_cli.contracts.errors import ExitStatus, UsageError
from resonate_rpc_cli.contracts.flows import flow_named

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
    """Run one flow through the gateway and print its result (exit 1 if it fails)."""
    from resonate_rpc_cli.observe import flowrun

    try:
        chosen = flow_named(flow)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    pid = flowrun.choose_id(chosen, promise_id, fresh)
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    outcome = flowrun.run_in(home_of(ctx), chosen, pid, arg=arg, wait=wait, timeout_s=timeout)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        from resonate_rpc_cli.view.console import out
        from resonate_rpc_cli.view.render import run_view

        out.print(run_view(outcome.to_dict()))
    if outcome.exit_status is not ExitStatus.OK:
        raise typer.Exit(int(outcome.exit_status))


