"""CliRunner tests for the topology's shape: the topology file, server choice, scale, node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from tests.cli._fake_supervisor import Running, rpcdemo
from tests.procs import free_port


@pytest.mark.parametrize(("text", "message"), [
    ("[server]\nprot = 8001\n", "unknown key server.prot (valid in [server]: port, host, kind"),
    ("[nodes]\nttl = -1\n", "nodes.ttl must be a number of seconds"),
    ("[replicas]\nservice-x = 2\n", "unknown group replicas.service-x"),
    ("[gateway]\nport = \"5000\"\n", "gateway.port must be a port number"),
    ("[server\n", "not valid TOML"),
])
def test_a_bad_topology_file_is_one_line_naming_it(home: Path, tmp_path: Path, text: str,
                                                   message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = rpcdemo(home, "up", "-d", "--config", str(path))
    assert code == 2, err
    assert message in err and str(path) in err
    assert len(err.strip().splitlines()) == 1, err
    assert not home.exists(), "nothing is created for a bad file"


def test_global_config_option_and_missing_file(home: Path, tmp_path: Path) -> None:
    code, _, err = rpcdemo(home, "--config", str(tmp_path / "nope.toml"), "up", "-d")
    assert code == 2 and "config file not found" in err


def test_rpcdemo_toml_in_the_working_directory_is_read_and_flags_win(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        captured: list[TopologyConfig]) -> None:
    (tmp_path / "rpcdemo.toml").write_text(
        "[server]\nport = 9911\n[nodes]\nttl = 30\nstep_delay = 2\n"
        "[replicas]\nservice-b = 3\n[restart]\nbackoff = 1.0\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = rpcdemo(home, "up", "-d", "--ttl", "4", "--replicas", "service-c=2",
                           "--only", "gateway,service-a,service-b,service-c")
    assert code == 3 and "captured" in err
    config = captured[0]
    assert (config.server_port, config.ttl_s, config.step_delay_s) == (9911, 4.0, 2.0)
    assert config.replicas == {"service-b": 3, "service-c": 2}
    assert config.restart_backoff_s == 1.0
    assert config.only == ["gateway", "service-a", "service-b", "service-c"]


def test_server_url_flag_and_env_mean_an_external_server(
        home: Path, captured: list[TopologyConfig]) -> None:
    rpcdemo(home, "up", "-d", "--server-url", "http://10.1.2.3:8001")
    rpcdemo(home, "up", "-d", env={"RESONATE_URL": "http://10.9.9.9:8001"})
    assert [(c.server_kind, c.server_url) for c in captured] == [
        ("external", "http://10.1.2.3:8001"), ("external", "http://10.9.9.9:8001")]


@pytest.mark.parametrize(("args", "message"), [
    (["--server", "docker"], "--server must be embedded, resonate or postgres"),
    (["--server", "resonate", "--server-url", "http://h:1"], "drop --server"),
    (["--server-url", "ftp://h:1"], "--server-url must be an http"),
    (["--replicas", "service-b=0"], "at least 1 at `up`"),
    (["--replicas", "service-b=x"], "not a whole number"),
    (["--only", "gateway,sevice-a"], "--only: unknown part 'sevice-a'"),
    (["--only", "gateway", "--replicas", "service-b=2"], "--replicas names service-b, which"),
])
def test_bad_shape_flags_are_usage_errors(home: Path, args: list[str], message: str) -> None:
    code, _, err = rpcdemo(home, "up", "-d", *args)
    assert code == 2 and message in err, err


def test_server_resonate_without_the_binary_is_a_clean_error(home: Path, tmp_path: Path
                                                             ) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    code, out, err = rpcdemo(home, "up", "-d", "--server", "resonate",
                             env={"PATH": str(empty)})
    assert code == 3, (out, err)
    assert "no `resonate` binary on PATH" in err and "brew install resonatehq/tap/resonate" in err
    assert len(err.strip().splitlines()) == 1
    assert not home.exists(), "nothing was started"


def test_server_url_that_does_not_answer_starts_nothing(home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = rpcdemo(home, "up", "-d", "--server-url", url)
    assert code == 3 and f"no Resonate server answers at {url}" in err
    assert not home.exists()


def test_scale_through_the_control_socket(running: Running) -> None:
    code, out, err = rpcdemo(running.home, "scale", "service-b", "3", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["added"] == ["service-b-2", "service-b-3"]
    assert [n["name"] for n in doc["nodes"]] == ["service-b-1", "service-b-2", "service-b-3"]
    assert all(n["state"] == "ready" for n in doc["nodes"])
    code, out, _ = rpcdemo(running.home, "scale", "service-b", "1", "--json")
    assert code == 0 and json.loads(out)["removed"] == ["service-b-3", "service-b-2"]
    code, out, _ = rpcdemo(running.home, "status", "--json")
    assert [n["name"] for n in json.loads(out)["nodes"] if n["group"] == "service-b"] == [
        "service-b-1"]


@pytest.mark.parametrize(("args", "message"), [
    (["service-q", "2"], "unknown group 'service-q'; valid groups: service-a"),
    (["gateway", "2"], "unknown group 'gateway'"),
    (["service-b", "20"], "from 0 to 16, got 20"),
    (["--", "service-b", "-1"], "from 0 to 16, got -1"),
])
def test_scale_rejects_bad_groups_and_counts(running: Running, args: list[str], message: str
                                             ) -> None:
    code, _, err = rpcdemo(running.home, "scale", *args)
    assert code == 2 and message in err, err


def test_scale_without_a_topology_exits_3(home: Path) -> None:
    code, _, err = rpcdemo(home, "scale", "service-b", "2")
    assert code == 3 and "nothing is running under" in err


@pytest.mark.parametrize(("args", "code", "message"), [
    (["service-z"], 2, "unknown group 'service-z'"),
    (["gateway"], 2, "unknown group 'gateway'"),
    (["service-b", "--count", "0"], 2, "--count must be from 1 to 16"),
    (["service-b", "--server-url", "nope"], 2, "--server-url must be an http"),
])
def test_node_rejects_bad_input(home: Path, args: list[str], code: int, message: str) -> None:
    got, _, err = rpcdemo(home, "node", *args)
    assert got == code and message in err, err


def test_node_against_a_server_that_does_not_answer_exits_3(home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = rpcdemo(home, "node", "service-b", "--server-url", url)
    assert code == 3 and "no Resonate server answers" in err


def test_node_refuses_a_home_that_runs_a_topology(running: Running) -> None:
    code, _, err = rpcdemo(running.home, "node", "service-b")
    assert code == 2 and "give `rpcdemo node` its own --home" in err


def test_variant_comes_from_the_flag_or_the_file_and_a_bad_one_is_exit_2(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        captured: list[TopologyConfig]) -> None:
    (tmp_path / "rpcdemo.toml").write_text('variant = "polyglot"\n')
    monkeypatch.chdir(tmp_path)
    rpcdemo(home, "up", "-d")
    rpcdemo(home, "up", "-d", "--variant", "seed")
    assert [c.variant for c in captured] == ["polyglot", "seed"]
    code, _, err = rpcdemo(home, "up", "-d", "--variant", "rust")
    assert code == 2 and "--variant must be one of seed, polyglot" in err, err
    assert len(err.strip().splitlines()) == 1, err
