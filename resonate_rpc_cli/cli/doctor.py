"""``rpcdemo doctor``: why each pending promise is still pending, and whether it is stuck.

The body is ``cli/everyday.py``'s (shared with the quick path).
"""

from __future__ import annotations

from typing import Annotated

import typer

from resonate_rpc_cli.cli import everyday
from resonate_rpc_cli.cli.common import JsonOpt, app, exit_on_error, home_of


@app.command()
@exit_on_error
def doctor(
    ctx: typer.Context,
    *,
    promise_id: Annotated[str | None, typer.Argument(
        help="Diagnose only this promise (default: every pending call).")] = None,
    stuck_after: Annotated[float | None, typer.Option(
        help="Seconds without progress after which a pending promise counts as stuck "
             "(default: the topology's lease TTL).")] = None,
    as_json: JsonOpt = False,
) -> int:
    """Say why each pending promise is pending: the cause at the leaf of its call graph.

    For every pending call it walks down through the pending calls it awaits
    to the one that holds everything up, and names the cause there: a holder
    that is dead or paused (with the lease countdown), a target group with no
    live member (with the command that starts one), a step that fails on
    every attempt (the last error line and the log's path), a partitioned or
    slowed link, a passed timeout, or plain work in progress.

    STUCK means: a cause that blocks until someone acts or a lease lapses (dead
    or paused holder, no live member, failing step, bad link, passed timeout),
    or no progress (a call created or settled, a lease handed over, a ledger
    line) for longer than --stuck-after. A durable sleep is never stuck.

    Exit codes: 0 nothing is stuck, 1 something is, 2 usage error,
    3 the topology is not running.
    """
    return everyday.doctor(home_of(ctx), promise_id=promise_id, stuck_after=stuck_after,
                           as_json=as_json)
