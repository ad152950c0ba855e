"""e2e: one real topology driven through the CLI: up, each flow, status, kill mid-step, down."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator

import psutil
import pytest
from typer.testing import CliRunner

from resonate_rpc_cli.cli import app
from resonate_rpc_cli.view.plain import terminal_width
from tests.e2e._cli_support import (
    Cli,
    assert_nothing_left,
    end_leftovers,
    new_cli,
    running_topology,
    short_home,
)
from tests.procs import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    with running_topology("--ttl", "2", "--delay", "service-b=2") as c:
        yield c


@pytest.mark.parametrize(("flow", "args", "value"), [
    ("await-chain", ["--arg", "5"], 7),
    ("fan-out", ["--arg", "3"], 13),
    ("fan-out-workflow", ["--arg", "0", "--fresh"], 1),
    ("detached-chain", ["--arg", "2", "--wait"], 4),
])
def test_each_flow_returns_the_right_value(cli: Cli, flow: str, args: list[str], value: int
                                          ) -> None:
    doc = cli.json("run", flow, *args, "--timeout", "30")
    assert doc["state"] == "resolved", doc
    assert doc["result"] == value, doc
    assert set(doc) == {"flow", "promise_id", "state", "result", "elapsed_ms"}


def test_detached_chain_without_wait_is_started(cli: Cli) -> None:
    doc = cli.json("run", "detached-chain", "--fresh")
    assert doc["state"] == "started" and doc["promise_id"].startswith("detached-chain-")


def test_status_json_shape(cli: Cli) -> None:
    doc = cli.json("status")
    assert {"server", "nodes", "promises"} <= set(doc)
    assert doc["server"]["healthy"] is True and doc["server"]["kind"] == "embedded"
    assert doc["server"]["url"] == f"http://127.0.0.1:{cli.server_port}"
    names = {n["name"] for n in doc["nodes"]}
    assert {"server", "gateway", "service-a-1", "service-i-1"} <= names
    for node in doc["nodes"]:
        assert {"name", "group", "pid", "state", "restarts", "uptime_s", "task"} <= set(node)
        assert node["state"] in ("ready", "starting"), node
    assert {"counts", "pending"} <= set(doc["promises"])
    assert "resolved" in doc["promises"]["counts"], doc["promises"]


@pytest.mark.parametrize("args", [
    ["tree", "await-chain"], ["tree", "await-chain", "--json"], ["doctor"], ["doctor", "--json"],
    ["status", "--json"], ["run", "await-chain"], ["run", "fan-out", "--arg", "3", "--json"],
    ["tree", "no-such-flow"],
], ids=" ".join)
def test_the_quick_path_answers_as_typer_does(cli: Cli, args: list[str]) -> None:
    """The process (cli/quick.py, no Typer, the plain views) and the Typer app in-process
    print the same and exit the same against a real topology (numbers masked: times)."""
    if terminal_width() != 80:  # pytest's own terminal: Rich here would wrap elsewhere
        pytest.skip("the in-process views would be as wide as this terminal")
    quick = cli.run(*args)
    typer_run = CliRunner().invoke(app, ["--home", str(cli.home), *args])
    mask = re.compile(r"[0-9a-f]{12}|\d+(\.\d+)?")
    assert (quick.returncode, mask.sub("N", quick.stdout), mask.sub("N", quick.stderr)) == (
        typer_run.exit_code, mask.sub("N", typer_run.stdout), mask.sub("N", typer_run.stderr))


def test_kill_service_b_mid_step_with_respawn_still_answers_right(cli: Cli) -> None:
    before = cli.node("service-b-1")
    run = subprocess.Popen(
        cli.argv("run", "await-chain", "--fresh", "--arg", "10", "--json", "--timeout", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        held = wait_until(lambda: cli.node("service-b-1")["task"], 15,
                          "service-b-1 to hold the bar task")
        assert ":" in held  # a child of the fresh root, not the root itself
        kill = cli.json("kill", "service-b", "--respawn")
        assert kill["killed"] == [{"name": "service-b-1", "pid": before["pid"],
                                   "signal": "KILL"}]
        assert kill["respawned"][0]["name"] == "service-b-1"
        assert kill["respawned"][0]["pid"] != before["pid"]
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, (out, err)
    doc = json.loads(out)
    assert (doc["state"], doc["result"]) == ("resolved", 12), doc
    after = cli.node("service-b-1")
    assert after["restarts"] == before["restarts"] + 1
    assert after["node_id"] != before["node_id"]


def test_tree_shows_the_call_graph(cli: Cli) -> None:
    cli.json("run", "await-chain", "--arg", "5")
    doc = cli.json("tree", "await-chain")
    funcs = {p["func"] for p in doc["promises"]}
    assert {"foo", "bar", "baz"} <= funcs, doc
    assert all(p["state"] == "resolved" for p in doc["promises"]), doc


def test_a_node_that_dies_on_its_own_is_restarted(cli: Cli) -> None:
    before = cli.node("service-h-1")
    os.kill(before["pid"], signal.SIGKILL)  # not through rpcdemo: a crash
    after = wait_until(
        lambda: (n := cli.node("service-h-1"))["state"] == "ready" and n["pid"] != before["pid"]
        and n, 15, "service-h-1 to be restarted")
    assert after["restarts"] == before["restarts"] + 1
    assert after["node_id"] != before["node_id"]
    assert cli.json("run", "fan-out", "--fresh", "--arg", "2")["result"] == 9


def test_stop_pauses_and_cont_resumes(cli: Cli) -> None:
    pid = cli.node("service-c-1")["pid"]
    doc = cli.json("kill", "service-c-1", "--signal", "STOP")
    assert doc == {"killed": [{"name": "service-c-1", "pid": pid, "signal": "STOP"}],
                   "respawned": []}
    node = cli.node("service-c-1")
    assert (node["state"], node["pid"]) == ("paused", pid)
    wait_until(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED, 5,
               "service-c-1 to be stopped")
    cli.json("kill", "service-c", "--signal", "CONT")
    assert cli.node("service-c-1")["state"] == "ready"
    wait_until(lambda: psutil.Process(pid).status() != psutil.STATUS_STOPPED, 5,
               "service-c-1 to run again")


def test_logs_and_watch(cli: Cli) -> None:
    logs = cli.run("logs", "service-a-1")
    assert logs.returncode == 0 and logs.stdout, logs.stderr
    watch = cli.run("watch", "--duration", "1")
    assert watch.returncode == 0, watch.stderr
    assert "processes" in watch.stdout and "service-i-1" in watch.stdout


def test_down_leaves_no_process_and_is_idempotent() -> None:
    with short_home() as home:
        c = new_cli(home)
        try:
            assert c.run(*c.up_args("--detach")).returncode == 0
            first = c.json("down")
            assert first["was_running"] is True
            assert_nothing_left(home, timeout=1.0)
            again = c.run("down")
            assert again.returncode == 0 and "nothing was running" in again.stdout
            assert not (home / "run" / "control.sock").exists()
        finally:
            end_leftovers(home)
