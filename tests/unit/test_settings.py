"""The settings table: one entry is a flag, a topology-file key, a checked value and a
node variable; the real tables keep the flags and keys they had."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from resonate_rpc_cli.cli.options import setting_options
from resonate_rpc_cli.cli.topology_file import parse_config
from resonate_rpc_cli.contracts import values as cv
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import NodeName
from resonate_rpc_cli.contracts.node_env import SERVICE_NODES, NodeEnvError, NodeVar
from resonate_rpc_cli.contracts.settings import (
    add_arguments,
    build,
    from_flags,
    setting,
    table,
    validate,
)
from resonate_rpc_cli.server.__main__ import parse_args
from resonate_rpc_cli.server.config import ServerConfig
from resonate_rpc_cli.supervisor.topology_config import (
    TopologyConfig,
    build_launch,
    validate_config,
)


def _widgets(text: str) -> int:
    return int(text)


#: the node half of the fake setting (what services would read)
WIDGETS = NodeVar("RPCDEMO_WIDGETS", 1, _widgets, str, SERVICE_NODES)


@dataclass(frozen=True)
class WithWidgets(TopologyConfig):
    """TopologyConfig plus one new setting: this one entry is all it takes."""

    widgets: int = setting(1, toml="nodes.widgets", flag="--widgets", check=cv.whole(1, 9),
                           node_var=WIDGETS, help="Widgets every service node juggles.")


def _command(cls: type[Any], seen: dict[str, Any], *, overrides: bool) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @setting_options(cls, overrides=overrides)
    def go(*, settings: dict[str, Any]) -> None:
        seen.update(settings)

    return app


def test_a_new_entry_is_a_flag_with_its_help() -> None:
    seen: dict[str, Any] = {}
    app = _command(WithWidgets, seen, overrides=True)
    result = CliRunner().invoke(app, ["--widgets", "4", "--ttl", "2"])
    assert result.exit_code == 0, result.output
    assert seen == {"widgets": 4, "ttl_s": 2.0}
    help_text = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert "--widgets" in help_text and "Widgets every service node juggles." in help_text


def test_a_new_entry_is_a_topology_file_key_checked_by_its_rule() -> None:
    assert parse_config("[nodes]\nwidgets = 3\nttl = 2\n", cls=WithWidgets).settings == {
        "widgets": 3, "ttl_s": 2.0}
    with pytest.raises(UsageError, match=r"^f.toml: nodes.widgets must be at most 9, got 12$"):
        parse_config("[nodes]\nwidgets = 12\n", "f.toml", cls=WithWidgets)
    with pytest.raises(UsageError, match=r"valid in \[nodes\]: .*fail_first, delay, widgets"):
        parse_config("[nodes]\nwidget = 1\n", cls=WithWidgets)
    # the real config has no such key
    with pytest.raises(UsageError, match=r"unknown key nodes\.widgets"):
        parse_config("[nodes]\nwidgets = 3\n")


def test_a_new_entry_is_validated_and_reaches_the_nodes(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--widgets must be a whole number >= 1, got 0$"):
        validate_config(WithWidgets(widgets=0))
    config = validate_config(WithWidgets(widgets=5))
    home = Home(tmp_path)

    def env_of(node: str) -> dict[str, str]:
        return build_launch(config, home, NodeName.parse(node), incarnation=1, node_id="n",
                            parent_pid=1).env

    assert WIDGETS.read(env_of("service-b-1")) == 5
    assert "RPCDEMO_WIDGETS" not in env_of("gateway")
    with pytest.raises(NodeEnvError, match="RPCDEMO_WIDGETS"):
        WIDGETS.read({"RPCDEMO_WIDGETS": "many"})


def test_a_new_entry_is_an_argparse_flag_checked_by_its_rule() -> None:
    @dataclass(frozen=True)
    class Knobs:
        depth: int = setting(2, flag="--depth", check=cv.whole(1), help="How deep.")

    parser = argparse.ArgumentParser()
    add_arguments(parser, Knobs)
    assert build(Knobs, from_flags(Knobs, vars(parser.parse_args(["--depth", "3"])))).depth == 3
    assert build(Knobs, from_flags(Knobs, vars(parser.parse_args([])))).depth == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["--depth", "0"])


def test_the_topology_table_keeps_its_flags_and_file_keys() -> None:
    rows = {e.field: e.setting for e in table(TopologyConfig)}
    assert {s.flag for s in rows.values() if s.flag} == {
        "--server-port", "--host", "--server", "--server-url", "--memory/--no-memory",
        "--retain", "--resonate-sql", "--gateway-port", "--ttl", "--step-delay",
        "--delay-mode", "--fail-first/--no-fail-first", "--delay", "--replicas",
        "--links/--no-links", "--only", "--auth/--no-auth", "--insecure", "--variant"}
    assert {s.toml for s in rows.values() if s.toml} == {
        "server.port", "server.host", "server.kind", "server.url", "server.memory",
        "server.retain", "server.resonate_sql", "gateway.port", "nodes.ttl",
        "nodes.step_delay", "nodes.delay_mode", "nodes.fail_first", "nodes.delay",
        "restart.max_failures", "restart.backoff", "replicas", "links", "server.auth",
        "variant"}


def test_both_server_command_lines_share_one_table() -> None:
    rows = [e for e in table(ServerConfig) if e.setting.flag]
    assert [e.setting.option for e in rows] == [
        "--host", "--port", "--store", "--memory", "--stream-lifetime", "--keepalive",
        "--hold-max", "--hold-age", "--max-body", "--no-extras", "--fsync", "--retain",
        "--auth-public-key", "--auth-iss", "--auth-aud", "--journal"]
    with pytest.raises(UsageError, match=r"^--hold-age must be > 0, got 0$"):
        validate(ServerConfig(hold_age_s=0))
    with pytest.raises(UsageError, match=r"^--retain: not a duration"):
        from_flags(ServerConfig, {"retain": "soon"})


def test_the_server_entries_from_main_parse_on_the_module_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = parse_args(["--memory", "--journal", "t.jsonl"])
    assert config.journal == tmp_path / "t.jsonl"
    assert config.auth_public_key is None
    with pytest.raises(SystemExit) as exited:
        parse_args(["--memory", "--auth-aud", "api"])
    assert exited.value.code == 2
