"""The ``rpcdemo`` app: every command module registered in ``--help`` order, and ``main``."""

from __future__ import annotations

import sys

import typer

from resonate_rpc_cli.cli import (  # noqa: F401  (registers commands)
    doctor,
    gc,
    inspection,
    lifecycle,
    net,
    processes,
    run,
    token_cmd,
)
from resonate_rpc_cli.cli.chaos_cmd import chaos
from resonate_rpc_cli.cli.common import app
from resonate_rpc_cli.contracts.errors import ExitStatus

app.command("chaos")(chaos)

#: The order of ``rpcdemo --help``; commands not named here follow in registration order.
HELP_ORDER = ("up", "down", "server", "run", "kill", "respawn", "scale", "node", "status",
              "watch", "tree", "doctor", "logs", "chaos", "gc",
              "token")


def _help_rank(name: str | None) -> int:
    return HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER)


app.registered_commands.sort(
    key=lambda c: _help_rank(c.name or (c.callback.__name__ if c.callback else None)))



def main() -> None:
    """Console entry point (``rpcdemo``).

    Runs the app non-standalone so that click's own usage errors (a bad
    integer, a missing argument) are one line on stderr with exit code 2, like
    ours, instead of a multi-line panel; ``--help`` keeps its rich layout.
    """
    try:
        code = app(prog_name="rpcdemo", standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one printed the help already
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            formatter = getattr(exc, "format_message", None)
            message = formatter() if callable(formatter) else str(exc)
            typer.echo(f"rpcdemo: {message}{hint}", err=True)
        sys.exit(int(getattr(exc, "exit_code", ExitStatus.USAGE)))
    sys.exit(code if isinstance(code, int) else 0)
