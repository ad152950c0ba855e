"""`rpcdemo promise get|resolve|reject|cancel` and `rpcdemo flow cancel|steps`: act on
durable state.

Parses, makes one call into :mod:`resonate_rpc_cli.observe.settle` or
:mod:`resonate_rpc_cli.observe.steps`, renders. Exit codes: 0 ok; 1 nothing
changed (the promise is already settled, the flow has nothing pending); 2 bad
input (a bad or unknown id, ``--value`` that is not JSON); 3 not running.
"""

from __future__ import annotations

from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import JsonOpt, app, emit_json, exit_on_error, home_of

EXIT_HELP = ("Exit codes: 0 ok, 1 nothing changed (already settled / nothing pending), "
             "2 bad input (bad or unknown id, --value not JSON), 3 not running.")

promise = typer.Typer(name="promise", no_args_is_help=True, help=(
    "Read or settle one durable promise by id (a human-in-the-loop promise, a stuck "
    "call). " + EXIT_HELP))
flow = typer.Typer(name="flow", no_args_is_help=True, help=(
    "Act on one call tree by its root id: cancel what is pending, list its steps. "
    + EXIT_HELP))
app.add_typer(promise)
app.add_typer(flow)

IdArg = Annotated[str, typer.Argument(metavar="ID", help="A promise id, e.g. await-chain:1.")]
RootArg = Annotated[str, typer.Argument(metavar="ROOT", help="A root promise id (no ':').")]
ValueOpt = Annotated[str | None, typer.Option(
    "--value", metavar="JSON",
    help="The value, as JSON (e.g. '{\"ok\": true}', '3', '\"text\"'). Default: none for "
         "resolve; for reject and cancel an error with a message, as the SDK writes one.")]


@promise.command("get")
@exit_on_error
def get(ctx: typer.Context, *, promise_id: IdArg, as_json: JsonOpt = False) -> None:
    """Show one promise: state, value, param, times, tags."""
    from resonate_rpc_cli.observe.settle import get_promise
    from resonate_rpc_cli.view.console import out
    from resonate_rpc_cli.view.promise_view import promise_view
    found = get_promise(home_of(ctx), promise_id)
    if as_json:
        emit_json(found.to_dict())
        return
    out.print(promise_view(found))


def _settle(ctx: typer.Context, action: str, promise_id: str, value: str | None,
            as_json: bool) -> None:
    from resonate_rpc_cli.observe.settle import parse_value, settle_promise
    from resonate_rpc_cli.view.console import out
    from resonate_rpc_cli.view.promise_view import settled_line
    done = settle_promise(home_of(ctx), promise_id, action, parse_value(value))
    if as_json:
        emit_json(done.to_dict())
        return
    out.print(settled_line(done))


@promise.command("resolve")
@exit_on_error
def resolve(ctx: typer.Context, *, promise_id: IdArg, value: ValueOpt = None,
            as_json: JsonOpt = False) -> None:
    """Resolve a pending promise (its awaiter resumes with the value)."""
    _settle(ctx, "resolve", promise_id, value, as_json)


@promise.command("reject")
@exit_on_error
def reject(ctx: typer.Context, *, promise_id: IdArg, value: ValueOpt = None,
           as_json: JsonOpt = False) -> None:
    """Reject a pending promise (its awaiter raises)."""
    _settle(ctx, "reject", promise_id, value, as_json)


@promise.command("cancel")
@exit_on_error
def cancel(ctx: typer.Context, *, promise_id: IdArg, value: ValueOpt = None,
           as_json: JsonOpt = False) -> None:
    """Cancel a pending promise (settles it rejected_canceled)."""
    _settle(ctx, "cancel", promise_id, value, as_json)


@flow.command("cancel")
@exit_on_error
def flow_cancel(ctx: typer.Context, *, root: RootArg, as_json: JsonOpt = False) -> None:
    """Cancel every pending promise of ROOT's call tree; the settled ones stay.

    Parents go first, so no awaiter wakes up to a child's cancel; children created
    meanwhile are caught by reading the tree again (up to three passes)."""
    from resonate_rpc_cli.observe.settle import cancel_flow
    from resonate_rpc_cli.view.console import out
    from resonate_rpc_cli.view.promise_view import canceled_view
    done = cancel_flow(home_of(ctx), root)
    if as_json:
        emit_json(done.to_dict())
        return
    out.print(canceled_view(done))


@flow.command("steps")
@exit_on_error
def steps(ctx: typer.Context, *, root: RootArg, as_json: JsonOpt = False) -> None:
    """ROOT's call tree step by step: attempts, nodes, timings, the lease now.

    Per promise: state, time taken, the starts and ends of its work and the nodes
    that ran them (this HOME's ledgers), its task now, its holder and lease."""
    from resonate_rpc_cli.observe.steps import flow_steps
    from resonate_rpc_cli.view.console import out
    from resonate_rpc_cli.view.promise_view import steps_table
    found = flow_steps(home_of(ctx), root)
    if as_json:
        emit_json(found.to_dict())
        return
    out.print(steps_table(found))
