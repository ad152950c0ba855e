"""The topology's shape as configuration: replicas, --only, server kinds, file + flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonate_rpc_cli.cli.topology_file import TopologyFile, merge_settings, parse_config
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import NodeName
from resonate_rpc_cli.contracts.settings import build
from resonate_rpc_cli.supervisor.topology_config import (
    TopologyConfig,
    build_launch,
    parse_only,
    parse_replicas,
    validate_config,
)


def test_node_names_follow_replicas_and_only() -> None:
    config = TopologyConfig(replicas={"service-b": 3}, only=["gateway", "service-a", "service-b"])
    assert [str(n) for n in config.node_names()] == [
        "server", "gateway", "service-a-1", "service-b-1", "service-b-2", "service-b-3"]


def test_external_server_has_no_server_node_and_keeps_its_url() -> None:
    config = TopologyConfig(server_kind="external", server_url="http://db:8001/",
                            only=["service-h"])
    assert [str(n) for n in config.node_names()] == ["service-h-1"]
    assert config.server_url == "http://db:8001" and not config.starts_server


def test_server_url_follows_the_port_unless_external() -> None:
    config = TopologyConfig(server_port=9100, server_url="http://ignored:1")
    assert config.server_url == "http://127.0.0.1:9100"
    assert TopologyConfig(server_kind="resonate", server_port=9101).server_url == \
        "http://127.0.0.1:9101"


def test_new_fields_round_trip_through_json() -> None:
    config = TopologyConfig(server_kind="external", server_url="http://h:1",
                            replicas={"service-b": 2}, only=["service-b"],
                            restart_max_failures=7, restart_backoff_s=0.5)
    assert TopologyConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(("config", "why"), [
    (TopologyConfig(server_kind="docker"), "--server must be one of"),
    (TopologyConfig(server_kind="external", server_url="db:8001"), "--server-url must be"),
    (TopologyConfig(replicas={"service-q": 1}), "unknown group 'service-q'"),
    (TopologyConfig(replicas={"service-b": 40}), "from 0 to 16, got 40"),
    (TopologyConfig(only=["server"]), "--only: unknown part 'server'"),
    (TopologyConfig(restart_max_failures=0), "max_failures must be a whole number >= 1"),
    (TopologyConfig(restart_backoff_s=0), "backoff must be a number of seconds > 0"),
])
def test_validate_names_the_bad_field(config: TopologyConfig, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        validate_config(config)


def test_parse_replicas_and_only() -> None:
    assert parse_replicas("service-b=3") == ("service-b", 3)
    assert parse_only("gateway, service-a,service-a") == ["gateway", "service-a"]
    for text, why in (("service-b", "expected GROUP=N"), ("service-b=two", "not a whole"),
                      ("service-z=2", "unknown group"), ("service-b=0", "at least 1 at `up`")):
        with pytest.raises(UsageError, match=why):
            parse_replicas(text)
    for text, why in (("", "needs at least one"), ("gateway,web", "unknown part 'web'")):
        with pytest.raises(UsageError, match=why):
            parse_only(text)


def test_flags_override_the_file_field_by_field() -> None:
    settings = parse_config("""
[server]
port = 9001
[nodes]
ttl = 9
[nodes.delay]
service-b = 3
service-c = 1
[replicas]
service-b = 2
[restart]
max_failures = 6
""")
    merged = merge_settings(settings, {"ttl_s": 2.0, "delays": {"service-b": 0.5},
                                       "replicas": {"service-h": 2}})
    config = validate_config(build(TopologyConfig, merged))
    assert (config.server_port, config.ttl_s, config.restart_max_failures) == (9001, 2.0, 6)
    assert config.delays == {"service-b": 0.5, "service-c": 1.0}
    assert config.replicas == {"service-b": 2, "service-h": 2}


def test_server_choice_from_flags_beats_the_file() -> None:
    external = parse_config('[server]\nkind = "external"\nurl = "http://db:8001"\n')
    assert merge_settings(external, {"server_kind": "embedded"}) == {"server_kind": "embedded"}
    assert merge_settings(TopologyFile(), {"server_url": "http://x:1"}) == {
        "server_kind": "external", "server_url": "http://x:1"}
    with pytest.raises(UsageError, match="drop --server"):
        merge_settings(TopologyFile(), {"server_url": "http://x:1", "server_kind": "resonate"})


def test_the_real_server_is_configured_through_its_environment(tmp_path: Path) -> None:
    home = Home(tmp_path)
    serve = build_launch(TopologyConfig(server_kind="resonate", server_port=9300), home,
                         NodeName("server", 1), incarnation=1, node_id="", parent_pid=1)
    assert serve.argv[1:3] == ["-m", "resonate_rpc_cli.supervisor.binary_guard"]
    assert serve.argv[3].endswith("resonate") and serve.argv[4:] == ["serve"]
    assert serve.env["RESONATE_SERVER__PORT"] == "9300"
    assert serve.env["RESONATE_SERVER__BIND"] == "127.0.0.1"
    assert serve.env["RESONATE_STORAGE__SQLITE__PATH"] == str(tmp_path / "resonate.db")
    dev = build_launch(TopologyConfig(server_kind="resonate", memory=True), home,
                       NodeName("server", 1), incarnation=1, node_id="", parent_pid=1)
    assert dev.argv[4:] == ["dev"] and "RESONATE_STORAGE__SQLITE__PATH" not in dev.env


def test_the_example_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "rpcdemo.toml"
    parsed = parse_config(example.read_text(), str(example))
    config = validate_config(build(TopologyConfig, merge_settings(parsed, {})))
    assert config.replicas_of("service-b") >= 2
