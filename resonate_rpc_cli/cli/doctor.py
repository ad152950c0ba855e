"""``rpcdemo doctor``: why each pending promise is still pending, and whether it is stuck."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from resonate_rpc_cli.cli.common import JsonOpt, app, emit_json, exit_on_error, home_of
from resonate_rpc_cli.contracts.errors import ExitStatus, UsageError

if TYPE_CHECKING:  # the diagnosis and Rich load when doctor runs (issue 21)
    from resonate_rpc_cli.observe.doctor import Diagnosis
    from resonate_rpc_cli.observe.gather import Gathered


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
) -> None:
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
    if stuck_after is not None and stuck_after <= 0:
        raise UsageError("--stuck-after must be > 0 seconds")
    from resonate_rpc_cli.observe.doctor import diagnose, stuck_count
    from resonate_rpc_cli.observe.gather import gather

    found = gather(home_of(ctx), stuck_after, promise_id)
    diagnoses = diagnose(found.facts, only=promise_id)
    if promise_id is not None and not diagnoses:
        _not_a_pending_call(found, promise_id)
    if as_json:
        emit_json(doctor_document(found, diagnoses))
    else:
        from resonate_rpc_cli.view.console import out
        from resonate_rpc_cli.view.doctor_view import doctor_view

        out.print(doctor_view(diagnoses, found.notices, found.facts.stuck_after_s))
    if stuck_count(diagnoses):
        raise typer.Exit(int(ExitStatus.FAILED))


def doctor_document(found: Gathered, diagnoses: list[Diagnosis]) -> dict[str, Any]:
    """The ``doctor --json`` contract."""
    from resonate_rpc_cli.observe.doctor import stuck_count

    return {
        "server": found.server_url,
        "stuck_after_s": found.facts.stuck_after_s,
        "pending": len(diagnoses),
        "stuck": stuck_count(diagnoses),
        "diagnoses": [d.to_dict() for d in diagnoses],
        "notices": list(found.notices),
    }


def _not_a_pending_call(found: Gathered, promise_id: str) -> None:
    call = found.facts.calls.get(promise_id)
    if call is None:
        raise UsageError(f"no promise {promise_id!r} on {found.server_url}")
    if call.state != "pending":
        from resonate_rpc_cli.view.console import out

        out.print(f"{promise_id} is {call.state}: nothing holds it up")
        raise typer.Exit(int(ExitStatus.OK))
    raise UsageError(f"{promise_id} is a {call.label} checkpoint, not a call; "
                     f"ask about its parent {call.parent}")
