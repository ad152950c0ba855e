"""cli/app.py's ``app_for``: only the invoked command is turned into a click command."""

from __future__ import annotations

import typer.main

from resonate_rpc_cli.cli.app import ROOT_VALUE_OPTIONS, app_for
from resonate_rpc_cli.cli.common import app


def names(args: list[str]) -> set[str]:
    group = typer.main.get_command(app_for(args))
    assert isinstance(group, typer.core.TyperGroup)
    return set(group.commands)


def test_the_invoked_command_alone_is_built_after_any_root_options() -> None:
    assert names(["status", "--json"]) == {"status"}
    assert names(["--home", "/h", "--config", "c.toml", "respawn", "service-b"]) == {"respawn"}
    assert names(["--home=/h", "net", "status"]) == {"net"}


def test_help_no_command_and_typos_get_every_command() -> None:
    every = set(typer.main.get_group(app).commands)
    assert {"up", "status", "chaos", "net", "heal", "respawn"} <= every
    for args in (["--help"], [], ["--home", "/h"], ["stauts"], ["--home"]):
        assert names(args) == every, args


def test_every_root_option_that_takes_a_value_is_skipped() -> None:
    root = typer.main.get_group(app)
    taking = {opt for p in root.params if isinstance(p, typer.core.TyperOption)
              and not p.is_flag for opt in p.opts}
    assert taking == set(ROOT_VALUE_OPTIONS)
