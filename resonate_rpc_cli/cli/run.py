"""`run`: one flow through the gateway (the body: ``cli/everyday.py``)."""

from __future__ import annotations

from typing import Annotated

import typer

from resonate_rpc_cli.cli import everyday
from resonate_rpc_cli.cli.common import JsonOpt, app, exit_on_error, home_of

# -- flows -----------------------------------------------------------------------------


@app.command()
@exit_on_error
def run(
    ctx: typer.Context,
    *,
    flow: Annotated[str, typer.Argument(
        help="await-chain, detached-chain or fan-out; on a declared application, one of its "
             "[flows].")],
    promise_id: Annotated[str | None, typer.Option("--id", help="Promise id of the root.")]
        = None,
    fresh: Annotated[bool, typer.Option(help="Use a new unique promise id.")] = False,
    arg: Annotated[int, typer.Option(help="Argument of the root function.")] = 1,
    wait: Annotated[bool, typer.Option(help="Detached chain: wait until cog has run "
        "and report its value (asked of the server, so the nodes may run anywhere).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")]
        = everyday.DEFAULT_TIMEOUT_S,
    as_json: JsonOpt = False,
) -> int:
    """Run one flow through the gateway and print its result (exit 1 if it fails).

    On a declared application (a topology file with [flows.NAME]) FLOW is one of its
    flows: started through the server as the SDK's rpc does (or its http route), waited
    for, its value printed; exit 1 if it is rejected, differs from its `expect` or does
    not settle within --timeout.
    """
    return everyday.run(home_of(ctx), flow=flow, promise_id=promise_id, fresh=fresh, arg=arg,
                        wait=wait, timeout=timeout, as_json=as_json)
