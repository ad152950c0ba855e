"""The quick path (cli/quick.py) prints and exits as Typer does, and leaves Typer the rest."""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from resonate_rpc_cli.cli import app, quick
from resonate_rpc_cli.contracts.errors import exit_code_of
from tests.cli._fake_supervisor import Running

#: command lines the quick path answers (against a fake-process supervisor, no server)
QUICK = [
    ["status", "--json"],
    ["status"],
    ["tree", "await-chain"],
    ["tree", "--json", "await-chain"],
    ["doctor"],
    ["doctor", "--json"],
    ["doctor", "await-chain", "--stuck-after", "2.5"],
    ["doctor", "--stuck-after=0"],
    ["doctor", "--stuck-after", "+1e1", "--json"],
    ["run", "await-chain"],
    ["run", "nosuch"],
    ["run", "await-chain", "--id", "a", "--fresh"],
    ["run", "await-chain", "--id", "bad:id"],
    ["run", "await-chain", "--timeout", "0"],
    ["run", "--json", "fan-out", "--arg", "5", "--no-wait", "--timeout=1.5"],
]
#: command lines left to Typer (its messages, its help, its conversions)
TYPER = [
    [], ["--help"], ["status", "--help"], ["status", "--nosuch"], ["status", "--json", "--json"],
    ["status", "--json=1"], ["status", "extra"], ["tree"], ["tree", "a", "b"],
    ["run", "await-chain", "--arg", "1.5"], ["run", "await-chain", "--arg", "-1"],
    ["run", "await-chain", "--fresh", "--no-fresh"], ["run", "await-chain", "--timeout", "inf"],
    ["run", "await-chain", "--id"], ["doctor", "--", "x"], ["--config", "x.toml", "status"],
    ["up"], ["status", "--home", "x"], ["-h"], ["doctor", "-"],
]


def masked(text: str) -> str:
    """Times and ids change between two runs: compare everything else."""
    return re.sub(r"[0-9a-f]{12}|\d+(\.\d+)?", "N", text)


def both(home: Path, args: list[str], capsys: pytest.CaptureFixture[str],
         env: dict[str, str] | None = None) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    argv = ([] if env else ["--home", str(home)]) + args
    typer_run = CliRunner().invoke(app, argv, env=env)
    call = quick.parse(argv, env or {})
    assert call is not None, argv
    capsys.readouterr()
    code = exit_code_of("rpcdemo", call)
    out, err = capsys.readouterr()
    return ((typer_run.exit_code, masked(typer_run.stdout), masked(typer_run.stderr)),
            (code, masked(out), masked(err)))


@pytest.mark.parametrize("args", QUICK, ids=" ".join)
def test_the_quick_path_prints_and_exits_as_typer_does(
        running: Running, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    by_typer, by_quick = both(running.home, args, capsys)
    assert by_quick == by_typer
    assert "Traceback" not in by_typer[1] + by_typer[2]


def test_home_from_the_environment_as_typer_reads_it(
        running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    by_typer, by_quick = both(running.home, ["status", "--json"], capsys,
                              env={"RPCDEMO_HOME": str(running.home)})
    assert by_quick == by_typer and by_quick[0] == 0


@pytest.mark.parametrize("args", TYPER, ids=lambda a: " ".join(a) or "(none)")
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert quick.parse(["--home", "/tmp", *args], {}) is None
    assert quick.parse(args, {}) is None


def test_an_unreadable_home_is_left_to_typer(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        unreadable = not os.access(locked, os.R_OK)  # root reads it anyway
        assert (quick.parse(["--home", str(locked), "status"], {}) is None) is unreadable
        assert quick.parse(["--home", "", "status"], {}) is None
        assert quick.parse(["status"], {"RPCDEMO_HOME": ""}) is not None
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("name", sorted(quick.COMMANDS))
def test_the_quick_table_declares_what_typer_declares(name: str) -> None:
    """cli/quick.py's table names the same options, parameters and defaults as the Typer
    command (the two declarations of one command must not drift apart)."""
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    body, positional, options = quick.COMMANDS[name]
    typer_options = {opt: p.name for p in command.params if p.param_type_name == "option"
                     for opt in (*p.opts, *p.secondary_opts) if opt != "--help"}
    assert {opt: param for opt, (param, _) in options.items()} == typer_options
    typer_arguments = [(p.name, p.required) for p in command.params
                       if p.param_type_name == "argument"]
    assert list(positional) == typer_arguments
    defaults = {k: v.default for k, v in inspect.signature(body).parameters.items()
                if v.default is not inspect.Parameter.empty}
    for p in command.params:
        if p.name in defaults and p.name != "home":
            assert p.default == defaults[p.name], (name, p.name, p.default, defaults[p.name])
