"""NodeConfig.from_env: the node environment contract, defaults and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.config import ConfigError, NodeConfig
from services.node import ReadyInfo, write_ready_file


def test_defaults_without_environment() -> None:
    cfg = NodeConfig.from_env("service-b", {})
    assert cfg.url == "http://127.0.0.1:8001"
    assert cfg.name == "service-b-1"
    assert len(cfg.node_id) == 32 and int(cfg.node_id, 16) >= 0
    assert cfg.ledger_dir == (Path(".rpcdemo") / "ledger").absolute()
    assert cfg.ready_file is None
    assert (cfg.ttl_s, cfg.step_delay_s, cfg.delay_mode, cfg.fail_first) == (60.0, 0.0, "work",
                                                                             False)


def test_fresh_node_id_per_incarnation() -> None:
    assert NodeConfig.from_env("service-a", {}).node_id != NodeConfig.from_env(
        "service-a", {}).node_id


def test_every_variable_is_read(tmp_path: Path) -> None:
    cfg = NodeConfig.from_env("service-c", {
        "RESONATE_URL": "http://127.0.0.1:9/", "RPCDEMO_NODE_NAME": "service-c-3",
        "RPCDEMO_NODE_ID": "abc123", "RPCDEMO_LEDGER_DIR": str(tmp_path / "l"),
        "RPCDEMO_READY_FILE": str(tmp_path / "r.json"), "RPCDEMO_TTL": "2.5",
        "RPCDEMO_STEP_DELAY": "0.25", "RPCDEMO_DELAY_MODE": "sleep", "RPCDEMO_FAIL_FIRST": "1",
    })
    assert cfg.url == "http://127.0.0.1:9"
    assert (cfg.name, cfg.node_id, cfg.group) == ("service-c-3", "abc123", "service-c")
    assert (cfg.ledger_dir, cfg.ready_file) == (tmp_path / "l", tmp_path / "r.json")
    assert (cfg.ttl_s, cfg.step_delay_s, cfg.delay_mode, cfg.fail_first) == (2.5, 0.25, "sleep",
                                                                             True)


def test_ledger_dir_falls_back_to_home(tmp_path: Path) -> None:
    cfg = NodeConfig.from_env("service-a", {"RPCDEMO_HOME": str(tmp_path)})
    assert cfg.ledger_dir == tmp_path / "ledger"


@pytest.mark.parametrize(("var", "value"), [
    ("RPCDEMO_TTL", "0"), ("RPCDEMO_TTL", "abc"), ("RPCDEMO_TTL", "nan"),
    ("RPCDEMO_STEP_DELAY", "-1"), ("RPCDEMO_STEP_DELAY", "inf"),
    ("RPCDEMO_DELAY_MODE", "nap"), ("RPCDEMO_FAIL_FIRST", "yes"),
    ("RESONATE_URL", "localhost:8001"), ("RPCDEMO_NODE_ID", "a/b"),
])
def test_bad_values_raise_one_line_naming_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        NodeConfig.from_env("service-a", {var: value})
    message = str(err.value)
    assert var in message and "\n" not in message


def test_ready_file_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "run" / "service-a-1.ready"
    info: ReadyInfo = {"name": "service-a-1", "group": "service-a", "node_id": "n1", "pid": 7,
                       "ready_at": 1.5}
    write_ready_file(path, info)
    assert json.loads(path.read_text()) == info
    assert [p.name for p in path.parent.iterdir()] == [path.name], "temp file left behind"
