"""A tiny Typer app carrying only ``chaos``, as the lead registers it in cli.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

from resonate_rpc_cli.cli.chaos_cmd import chaos
from resonate_rpc_cli.contracts.home import Home

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option("--home", envvar="RPCDEMO_HOME")] = None,
) -> None:
    ctx.obj = Home.resolve(home)


app.command("chaos")(chaos)
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    """Run ``chaos ARGS``; return (exit code, stdout, stderr); never a traceback."""
    result = runner.invoke(app, list(args))
    both = result.stdout + result.stderr
    assert "Traceback" not in both, both
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr
