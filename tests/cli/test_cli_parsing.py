"""CliRunner tests: parsing, usage errors and their exit codes, talking to a supervisor."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resonate_rpc_cli.cli import app
from tests.cli._fake_supervisor import Running, rpcdemo

runner = CliRunner()





@pytest.mark.parametrize("command", [
    ["status"], ["status", "--json"], ["run", "await-chain"], ["kill", "service-b"],
    ["respawn", "service-b"], ["tree", "await-chain"], ["watch", "--duration", "0.1"],
    ["logs", "service-b-1"],
])
def test_without_a_supervisor_every_command_says_so_and_exits_3(home: Path, command: list[str]
                                                                 ) -> None:
    code, out, err = rpcdemo(home, *command)
    assert code == 3, (out, err)
    assert f"nothing is running under {home}; start it with `rpcdemo up`" in err


def test_down_without_a_supervisor_is_fine(home: Path) -> None:
    code, out, _ = rpcdemo(home, "down", "--json")
    assert code == 0
    assert json.loads(out) == {"was_running": False, "leftovers": 0}


def test_unknown_flow_lists_the_valid_ones(home: Path) -> None:
    code, _, err = rpcdemo(home, "run", "sideways")
    assert code == 2
    assert "unknown flow 'sideways'" in err and "fan-out" in err and "await-chain" in err


def test_id_and_fresh_exclude_each_other(home: Path) -> None:
    code, _, err = rpcdemo(home, "run", "fan-out", "--id", "x", "--fresh")
    assert code == 2 and "--id and --fresh" in err


@pytest.mark.parametrize(("delay", "why"), [
    ("service-b", "expected GROUP=SECONDS"), ("service-q=2", "unknown group 'service-q'"),
    ("service-b=fast", "not a number"),
])
def test_bad_delay_is_a_usage_error_and_starts_nothing(home: Path, delay: str, why: str) -> None:
    code, _, err = rpcdemo(home, "up", "--detach", "--delay", delay)
    assert code == 2 and why in err
    assert not (home / "run" / "supervisor.pid").exists()


def test_bad_port_and_ttl_are_usage_errors(home: Path) -> None:
    assert rpcdemo(home, "up", "-d", "--server-port", "70000")[0] == 2
    assert rpcdemo(home, "up", "-d", "--ttl", "0")[0] == 2
    assert rpcdemo(home, "up", "-d", "--server-port", "9000", "--gateway-port", "9000")[0] == 2


def test_non_numeric_option_is_a_click_usage_error(home: Path) -> None:
    assert rpcdemo(home, "kill", "service-b", "--count", "many")[0] == 2


def test_a_port_in_use_is_named_and_nothing_starts(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = rpcdemo(home, "up", "-d", "--server-port", str(port))
    assert code == 3
    assert f"server port {port} on 127.0.0.1 is in use" in err
    assert not (home / "run" / "control.sock").exists()


def test_unknown_kill_target_lists_the_valid_ones(running: Running) -> None:
    code, _, err = rpcdemo(running.home, "kill", "service-x")
    assert code == 2
    assert "unknown target 'service-x'" in err
    for valid in ("service-a", "gateway", "server", "service-i-1"):
        assert valid in err


def test_kill_respawn_json_shape(running: Running) -> None:
    old_pid = running.rig.pid("service-b-1")
    code, out, err = rpcdemo(running.home, "kill", "service-b", "--respawn", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["killed"] == [{"name": "service-b-1", "pid": old_pid, "signal": "KILL"}]
    assert [r["name"] for r in doc["respawned"]] == ["service-b-1"]
    assert doc["respawned"][0]["pid"] not in (None, old_pid)


def test_respawn_after_implies_respawn(running: Running) -> None:
    code, out, err = rpcdemo(running.home, "kill", "service-b", "--respawn-after", "0", "--json")
    assert code == 0, err
    assert [r["name"] for r in json.loads(out)["respawned"]] == ["service-b-1"]
    code, _, err = rpcdemo(running.home, "kill", "service-b", "--respawn-after", "-1")
    assert code == 2 and "--respawn-after must be >= 0" in err


def test_kill_stop_then_cont(running: Running) -> None:
    assert rpcdemo(running.home, "kill", "service-c-1", "--signal", "STOP")[0] == 0
    code, _, err = rpcdemo(running.home, "kill", "service-c-1", "--signal", "stop")
    assert code == 2 and "service-c-1 paused" in err
    assert rpcdemo(running.home, "kill", "service-c-1", "--signal", "CONT")[0] == 0
    code, _, err = rpcdemo(running.home, "kill", "service-c", "--signal", "USR1")
    assert code == 2 and "unknown signal" in err


def test_respawn_after_kill(running: Running) -> None:
    assert rpcdemo(running.home, "kill", "service-d")[0] == 0
    code, out, _ = rpcdemo(running.home, "respawn", "service-d", "--json")
    assert code == 0
    assert [r["name"] for r in json.loads(out)["respawned"]] == ["service-d-1"]
    code, _, err = rpcdemo(running.home, "respawn", "service-d")
    assert code == 2 and "nothing to respawn" in err


def test_status_json_shape_without_a_server(running: Running) -> None:
    code, out, err = rpcdemo(running.home, "status", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {"server", "nodes", "promises"} <= set(doc)
    assert {"url", "kind", "durable", "healthy"} <= set(doc["server"])
    assert doc["server"]["healthy"] is False  # fake processes: nothing listens
    assert {"counts", "pending"} <= set(doc["promises"])
    names = [n["name"] for n in doc["nodes"]]
    assert names[:2] == ["server", "gateway"] and "service-i-1" in names
    for node in doc["nodes"]:
        assert {"name", "group", "pid", "state", "restarts", "uptime_s", "task"} <= set(node)


def test_second_up_under_a_running_home_is_refused(running: Running) -> None:
    code, _, err = rpcdemo(running.home, "up", "--detach")
    assert code == 2 and "already running" in err


def test_logs_of_an_unknown_node_lists_the_known_ones(running: Running) -> None:
    logs = running.home / "logs"
    (logs / "service-a-1.1.log").write_text("first\n")
    (logs / "service-a-1.2.log").write_text("second life\n")
    code, out, _ = rpcdemo(running.home, "logs", "service-a-1")
    assert code == 0 and out == "second life\n"
    code, out, _ = rpcdemo(running.home, "logs", "service-a-1", "--incarnation", "1")
    assert out == "first\n"
    code, _, err = rpcdemo(running.home, "logs", "service-zz-1")
    assert code == 2 and "service-a-1" in err


def test_help_documents_the_exit_codes_and_ttl_default() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "3 the topology is not running" in result.output
    up_help = runner.invoke(app, ["up", "--help"], env={"COLUMNS": "200"})
    assert "--ttl" in up_help.output and "5.0" in up_help.output


def test_server_store_and_memory_exclude_each_other(home: Path) -> None:
    code, _, err = rpcdemo(home, "server", "--memory", "--store", str(home / "s.sqlite"))
    assert code == 2 and "--store and --memory" in err
    assert rpcdemo(home, "server", "--port", "0")[0] == 2


def test_logs_json_is_one_object_per_line(running: Running) -> None:
    (running.home / "logs" / "service-a-1.1.log").write_text("first\nsecond\n")
    code, out, err = rpcdemo(running.home, "logs", "service-a-1", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["line"] for r in rows] == ["first", "second"]
    assert {r["node"] for r in rows} == {"service-a-1"}


def test_watch_json_streams_status_snapshots(running: Running) -> None:
    # a snapshot with the server down costs a first urlopen (~0.5 s on a loaded machine)
    code, out, err = rpcdemo(running.home, "watch", "--json", "--duration", "2",
                             "--interval", "0.1")
    assert code == 0, err
    snapshots = [json.loads(line) for line in out.splitlines()]
    assert len(snapshots) >= 2, out
    assert {"server", "nodes", "promises"} <= set(snapshots[0]), snapshots[0]
    assert {n["name"] for n in snapshots[-1]["nodes"]} >= {"server", "gateway", "service-b-1"}
    code, _, err = rpcdemo(running.home, "watch", "--json", "--interval", "0")
    assert code == 2 and "--interval must be > 0" in err
