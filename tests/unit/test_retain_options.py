"""--retain / retain = "1h" / gc --older-than: one duration parser, carried to the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonate_rpc_cli.cli.topology_file import parse_config
from resonate_rpc_cli.contracts.durations import parse_duration
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import NodeName
from resonate_rpc_cli.server.__main__ import parse_args
from resonate_rpc_cli.supervisor.topology_config import (
    TopologyConfig,
    build_launch,
    retain_seconds,
    validate_config,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("90s", 90.0), ("30m", 1800.0), ("1h", 3600.0), ("2d", 172800.0),
    ("1h30m", 5400.0), ("0.5s", 0.5), (" 1H ", 3600.0), (45, 45.0), (1.5, 1.5),
])
def test_durations_people_write(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1x", "h1", "-5", "1h-3m", "nan", "inf"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_retain_in_the_topology_file_and_on_the_server_command_line(tmp_path: Path) -> None:
    assert parse_config('[server]\nretain = "1h"\n').settings == {"retain_s": 3600.0}
    assert parse_config("[server]\nretain = 120\n").settings == {"retain_s": 120.0}
    with pytest.raises(UsageError, match="retain"):
        parse_config('[server]\nretain = "later"\n')
    config = validate_config(TopologyConfig(retain_s=retain_seconds("10m")))
    spec = build_launch(config, Home(tmp_path), NodeName.parse("server"), incarnation=1,
                        node_id="n", parent_pid=1)
    assert spec.argv[-2:] == ["--retain", "600.0"]
    assert parse_args(spec.argv[3:]).retain_s == 600.0
    assert parse_args(["--memory"]).retain_s is None
    plain = build_launch(TopologyConfig(), Home(tmp_path), NodeName.parse("server"),
                         incarnation=1, node_id="n", parent_pid=1)
    assert "--retain" not in plain.argv


def test_retain_needs_the_embedded_server() -> None:
    with pytest.raises(UsageError, match="embedded"):
        validate_config(TopologyConfig(retain_s=60.0, server_kind="resonate"))
    with pytest.raises(UsageError, match="--retain"):
        retain_seconds("0s")
