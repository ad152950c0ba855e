"""What every command shares: the Typer app, the root options, the error-to-exit-code wrapper.

Exit codes (a contract, see docs/cli.md): 0 ok; 1 a flow failed or timed out;
2 usage error; 3 the topology is not running or not healthy (or could not
start). Every :class:`~resonate_rpc_cli.contracts.errors.RpcdemoError` becomes one line
on stderr and its exit code in :func:`exit_on_error`; nothing prints a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from resonate_rpc_cli.cli.coercion import PlainGroup
from resonate_rpc_cli.clients.tokens import use_home
from resonate_rpc_cli.contracts.errors import exit_code_of
from resonate_rpc_cli.contracts.home import Home

app = typer.Typer(
    name="rpcdemo", cls=PlainGroup, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
    help="Bring up, drive, break and watch a durable RPC topology on Resonate.\n\n"
         "Exit codes: 0 ok, 1 a flow failed or timed out, 2 usage error, "
         "3 the topology is not running or not healthy.",
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def reporting[**P](prog: str) -> Callable[[Callable[P, int | None]], Callable[P, None]]:
    """A command decorator: errors become one line ``<prog>: ...`` on stderr and their
    documented exit code (:func:`~resonate_rpc_cli.contracts.errors.exit_code_of`); a
    command may also return its exit code."""

    def decorate(fn: Callable[P, int | None]) -> Callable[P, None]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
            code = exit_code_of(prog, functools.partial(fn, *args, **kwargs))
            if code:
                raise typer.Exit(code)

        return wrapper

    return decorate


exit_on_error = reporting("rpcdemo")


def home_of(ctx: typer.Context) -> Home:
    home = ctx.obj
    assert isinstance(home, Home)
    return home


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home", envvar="RPCDEMO_HOME",
        help="Where state, logs, the store and the ledgers live (default ./.rpcdemo).")] = None,
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="Topology file for `up` (default ./rpcdemo.toml when present).")]
        = None,
) -> None:
    ctx.obj = Home.resolve(home)
    use_home(ctx.obj)  # this HOME's key (`up --auth`) signs the admin token of our reads
    ctx.meta["config_path"] = config_path


# -- up / down -------------------------------------------------------------------------


UP_FLAG_HELP = ("Flags override the topology file (./rpcdemo.toml or --config) "
                "field by field.")


