"""cli/coercion.py: plain values are coerced without pydantic, to what Typer's adapter gives;
anything else still goes through Typer (same values, same error messages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.core
from typer._coercion import build_runtime_param
from typer.testing import CliRunner

from resonate_rpc_cli.cli.coercion import PlainGroup


def make_app(cls: type[typer.core.TyperGroup] | None) -> typer.Typer:
    app = typer.Typer(cls=cls, add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root(home: Annotated[Path | None, typer.Option("--home")] = None) -> None:
        pass

    @app.command()
    def show(
        name: Annotated[str, typer.Argument()],
        *,
        count: Annotated[int, typer.Option()] = 1,
        ratio: Annotated[float, typer.Option()] = 0.5,
        where: Annotated[Path | None, typer.Option()] = None,
        tag: Annotated[list[str] | None, typer.Option("--tag")] = None,
        flag: Annotated[bool | None, typer.Option("--flag/--no-flag")] = None,
    ) -> None:
        values: dict[str, Any] = {"name": name, "count": count, "ratio": ratio,
                                  "where": where, "tag": tag, "flag": flag}
        typer.echo(json.dumps({k: [type(v).__name__, str(v)] for k, v in values.items()}))

    @app.command()
    def bounded(small: Annotated[int, typer.Option(max=3)] = 0) -> None:
        typer.echo(repr(small))

    return app


def run(cls: type[typer.core.TyperGroup] | None, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(make_app(cls), list(args))
    return result.exit_code, result.output


@pytest.fixture
def adapters(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every annotation Typer builds its own (pydantic) coercion for."""
    built: list[Any] = []
    def recording(descriptor: Any) -> Any:
        built.append(descriptor.annotation)
        return build_runtime_param(descriptor)

    monkeypatch.setattr(typer.core, "build_runtime_param", recording)
    monkeypatch.setattr("resonate_rpc_cli.cli.coercion.build_runtime_param", recording)
    return built


PLAIN = ["--home", "/tmp/h", "show", "x", "--count", "-12", "--ratio", "1e-3",
         "--where", "a/b", "--tag", "p", "--tag", "q", "--flag"]


def test_plain_values_need_no_adapter_and_equal_typers_own(adapters: list[Any]) -> None:
    code, ours = run(PlainGroup, *PLAIN)
    assert code == 0, ours
    assert adapters == []
    assert run(PlainGroup, "show", "y")[0] == 0 and adapters == []  # the defaults too
    code, typers = run(None, *PLAIN)
    assert code == 0 and adapters, "without PlainGroup Typer builds its adapters"
    assert json.loads(ours) == json.loads(typers)


@pytest.mark.parametrize("args", [
    ["show", "x", "--count", "1.0"], ["show", "x", "--count", " 7"],
    ["show", "x", "--count", "1_000"], ["show", "x", "--ratio", "inf"],
    ["bounded", "--small", "2"],
])
def test_other_forms_go_to_typer_with_the_same_result(args: list[str],
                                                      adapters: list[Any]) -> None:
    ours = run(PlainGroup, *args)
    assert ours[0] == 0 and adapters, "a form the plain coercion does not know goes to Typer's"
    assert ours == run(None, *args)


@pytest.mark.parametrize("args", [
    ["show", "x", "--count", "x"], ["show", "x", "--ratio", "1.2.3"], ["bounded", "--small", "9"],
])
def test_bad_values_fail_with_typers_message(args: list[str]) -> None:
    code, out = run(PlainGroup, *args)
    assert code == 2 and "Invalid value" in out
    assert (code, out) == run(None, *args)
