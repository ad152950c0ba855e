"""The ``rpcdemo`` app: every command module registered in ``--help`` order, and ``main``."""

from __future__ import annotations

import copy
import sys

import typer
from typer.main import get_command_name

from resonate_rpc_cli.cli import (  # noqa: F401  (registers commands)
    doctor,
    gc,
    init_cmd,
    inspection,
    lifecycle,
    net,
    processes,
    promise_cmd,
    run,
    token_cmd,
    ui_cmd,
)
from resonate_rpc_cli.cli.chaos_cmd import chaos
from resonate_rpc_cli.cli.common import app
from resonate_rpc_cli.contracts.errors import ExitStatus

app.command("chaos")(chaos)

#: The order of ``rpcdemo --help``; commands not named here follow in registration order.
HELP_ORDER = ("init", "up", "down", "server", "run", "kill", "respawn", "scale", "node", "status",
              "watch", "ui", "tree", "doctor", "promise", "flow", "logs", "chaos", "gc",
              "token")


def _help_rank(name: str | None) -> int:
    return HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER)


app.registered_commands.sort(
    key=lambda c: _help_rank(c.name or (c.callback.__name__ if c.callback else None)))



#: the root options that take a value (``rpcdemo --home H status``): skipped to find the command
ROOT_VALUE_OPTIONS = ("--home", "--config")


def app_for(args: list[str]) -> typer.Typer:
    """The app with only the command (or group) ``args`` invoke registered.

    Typer turns every registered command into a click command (reading each
    signature's annotations) before it parses anything: a third of a quick
    command's time. Only the invoked one is needed; when ``args`` name none
    (``--help``, no command, a typo to suggest against) the whole app is.
    """
    name = _command_name(args)
    commands = [c for c in app.registered_commands if _name_of(c) == name]
    groups = [g for g in app.registered_groups if name is not None and _group_name(g) == name]
    if not commands and not groups:
        return app
    only = copy.copy(app)
    only.registered_commands = commands
    only.registered_groups = groups
    return only


def _command_name(args: list[str]) -> str | None:
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ROOT_VALUE_OPTIONS:
            skip = True
        elif arg.startswith(tuple(f"{o}=" for o in ROOT_VALUE_OPTIONS)):
            continue
        else:
            return None if arg.startswith("-") else arg
    return None


def _name_of(command: typer.models.CommandInfo) -> str | None:
    if command.name:
        return command.name
    return get_command_name(command.callback.__name__) if command.callback else None


def _group_name(group: typer.models.TyperInfo) -> str | None:
    """``add_typer``'s name, else the sub-app's own (``typer.Typer(name="net")``)."""
    for name in (group.name, group.typer_instance.info.name if group.typer_instance else None):
        if isinstance(name, str):
            return name
    return None


def main() -> None:
    """Console entry point (``rpcdemo``).

    Runs the app non-standalone so that click's own usage errors (a bad
    integer, a missing argument) are one line on stderr with exit code 2, like
    ours, instead of a multi-line panel; ``--help`` keeps its rich layout.
    """
    try:
        code = app_for(sys.argv[1:])(prog_name="rpcdemo", standalone_mode=False)
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
