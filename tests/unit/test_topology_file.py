from __future__ import annotations

from pathlib import Path

import pytest

from resonate_rpc_cli.cli.topology_file import TopologyFile, load_config_file, parse_config
from resonate_rpc_cli.contracts.errors import ExitStatus, UsageError

FULL = """
[server]
port = 9001
kind = "embedded"
memory = true

[gateway]
port = 6000

[nodes]
ttl = 2.5
step_delay = 1
delay_mode = "sleep"
fail_first = true

[nodes.delay]
service-b = 3

[replicas]
service-b = 3
service-a = 2

[restart]
max_failures = 4
backoff = 0.25
"""


def test_full_file_maps_to_config_fields() -> None:
    got = parse_config(FULL).settings
    assert got == {
        "server_port": 9001,
        "server_kind": "embedded",
        "memory": True,
        "gateway_port": 6000,
        "ttl_s": 2.5,
        "step_delay_s": 1.0,
        "delay_mode": "sleep",
        "fail_first": True,
        "delays": {"service-b": 3.0},
        "replicas": {"service-b": 3, "service-a": 2},
        "restart_max_failures": 4,
        "restart_backoff_s": 0.25,
    }


def test_links_is_a_top_level_switch() -> None:
    assert parse_config("links = false\n[gateway]\nport = 6000\n").settings == {
        "links": False, "gateway_port": 6000}


def test_external_server_needs_url() -> None:
    got = parse_config('[server]\nkind = "external"\nurl = "http://127.0.0.1:9"\n').settings
    assert got == {"server_kind": "external", "server_url": "http://127.0.0.1:9"}
    with pytest.raises(UsageError, match=r"needs server\.url"):
        parse_config('[server]\nkind = "external"\n')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "unknown key server.prot"),
        ("[sever]\nport = 1\n", r"unknown table \[sever\]"),
        ("[server]\nport = 70000\n", "server.port must be a port number"),
        ("[server]\nport = true\n", "server.port must be a port number"),
        ('[server]\nkind = "docker"\n',
         "server.kind must be one of embedded, resonate, postgres, external"),
        ("[nodes]\nttl = 0\n", "nodes.ttl must be a number of seconds > 0"),
        ('[nodes]\nstep_delay = "3"\n', "nodes.step_delay must be a number of seconds"),
        ("[nodes.delay]\nservice-z = 1\n", "unknown group nodes.delay.service-z"),
        ("[replicas]\nservice-b = 0\n", "replicas.service-b must be a whole number >= 1"),
        ("[replicas]\nservice-b = 99\n", "replicas.service-b must be at most 16"),
        ("[server\nport = 1\n", "not valid TOML"),
        ('[server]\nurl = "http://x:1"\nkind = "embedded"\n', "server.url only goes with"),
        ("server = 3\n", "server must be a table"),
        ('links = "no"\n', "links must be true or false"),
    ],
)
def test_bad_files_name_the_key(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_config(text, "my.toml")
    assert str(info.value).startswith("my.toml: ")
    assert "\n" not in str(info.value)
    assert info.value.status == ExitStatus.USAGE


def test_default_file_is_optional_but_named_file_is_not(tmp_path: Path) -> None:
    assert load_config_file(None, cwd=tmp_path) == TopologyFile()
    (tmp_path / "rpcdemo.toml").write_text("[gateway]\nport = 5055\n")
    assert load_config_file(None, cwd=tmp_path).settings == {"gateway_port": 5055}
    with pytest.raises(UsageError, match="config file not found"):
        load_config_file(tmp_path / "missing.toml")


def test_the_shipped_example_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "rpcdemo.toml"
    got = load_config_file(example).settings
    assert got["replicas"] == {"service-b": 2}
    assert got["delays"] == {"service-b": 3.0}
