"""Failover faster than the lease, end to end: the real CLI, supervisor, server and nodes.

A flow's middle step (``bar`` on service-b, plain work that holds the lease)
is killed with ``kill -9`` and respawned. With failover the supervisor hands
the dead node's lease back at once and the flow finishes in about the step's
time, far inside a 30 s TTL; with failover off (``RPCDEMO_NO_FAILOVER=1``)
nothing is released and the flow waits for the lease to lapse. Nodes are
forked by the fork server here (the default), which is checked too.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from resonate_rpc_cli.backends.http import ExtrasRelease
from resonate_rpc_cli.contracts.ledger import read_ledger
from resonate_rpc_cli.supervisor.failover import ReleaseWorker
from tests.e2e._cli_support import Cli, assert_nothing_left, end_leftovers, new_cli, short_home
from tests.procs import free_port, proc_group, start_server, wait_until

pytestmark = pytest.mark.e2e


class EnvCli(Cli):
    """The CLI with extra environment, which `up` passes on to the supervisor."""

    env: dict[str, str]

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False,
                              env={**os.environ, **self.env})
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc


@pytest.fixture
def topology(request: pytest.FixtureRequest) -> Iterator[EnvCli]:
    params: dict[str, Any] = getattr(request, "param", {})
    with short_home() as home:
        base = new_cli(home)
        cli = EnvCli(base.home, base.server_port, base.gateway_port)
        cli.env = dict(params.get("env", {}))
        try:
            up = cli.run(*cli.up_args("--detach", "--memory", "--ttl", str(params["ttl"]),
                                      "--delay", f"service-b={params['delay']}",
                                      "--delay-mode", "work", *params.get("extra", [])))
            assert up.returncode == 0, up.stderr
            yield cli
        finally:
            cli.run("down")
            left = end_leftovers(home)
            assert not left, f"left behind: {left}"
            assert_nothing_left(home)


def start_flow(cli: Cli, flow_id: str, arg: int, done: dict[str, Any]) -> threading.Thread:
    def post() -> None:
        body = json.dumps({"id": flow_id, "arg": arg, "timeout": 120}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{cli.gateway_port}/await-chain",
                                     data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=130) as resp:
                done["answer"] = json.loads(resp.read())
        except Exception as exc:  # reported by the test's assertion
            done["error"] = repr(exc)
        done["at"] = time.monotonic()

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def bar_started_not_ended(home: Path, arg: int) -> list[str]:
    phases = [e.phase for e in read_ledger(home / "ledger") if e.func == "bar" and e.arg == arg]
    return phases if phases == ["start"] else []


def events(cli: Cli) -> list[dict[str, Any]]:
    return list(cli.json("status")["events"])


def kill_bar_mid_step(cli: Cli, arg: int) -> tuple[dict[str, Any], float, str]:
    """Start an await chain, kill -9 service-b during bar's step with respawn.

    Returns the flow's result holder, the monotonic time of the kill, and the
    dead node id.
    """
    dead_id = cli.node("service-b-1")["node_id"]
    done: dict[str, Any] = {}
    start_flow(cli, f"failover-{arg}", arg, done)
    wait_until(lambda: bar_started_not_ended(cli.home, arg) or done.get("error"), 30,
               f"bar({arg}) to start its step")
    assert "error" not in done, done
    killed_at = time.monotonic()
    kill = cli.run("kill", "service-b", "--respawn")
    assert kill.returncode == 0, kill.stderr
    phases = [e.phase for e in read_ledger(cli.home / "ledger")
              if e.func == "bar" and e.arg == arg]
    assert "end" not in phases, "the kill came after bar's step had ended"
    return done, killed_at, dead_id


@pytest.mark.parametrize("topology", [{"ttl": 30, "delay": 1.5}], indirect=True)
def test_a_killed_step_finishes_within_seconds_of_the_respawn_not_the_ttl(
    topology: EnvCli,
) -> None:
    cli = topology
    node = cli.node("service-b-1")
    parent = psutil.Process(node["pid"]).parent()
    assert parent is not None and "resonate_rpc_cli.supervisor.fork.server" in parent.cmdline(), \
        "service nodes are forked by the fork server"
    done, killed_at, dead_id = kill_bar_mid_step(cli, 41)
    wait_until(lambda: "at" in done, 8.0, "the flow to finish well inside the 30 s TTL")
    assert done.get("answer", {}).get("message") == 43, done
    assert done["at"] - killed_at < 8.0
    released = [e for e in events(cli) if e["kind"] == "released"]
    assert [(e["node"], e["node_id"]) for e in released] == [("service-b-1", dead_id)], released
    assert "1 lease(s)" in released[0]["detail"], released
    # bar's step ran again (its work is not a checkpoint); baz and foo ran once
    ledger = [(e.func, e.phase) for e in read_ledger(cli.home / "ledger") if e.arg == 41]
    assert ledger.count(("bar", "start")) == 2 and ledger.count(("bar", "end")) == 1, ledger
    assert ledger.count(("baz", "end")) == 1 and ledger.count(("foo", "end")) == 1, ledger


@pytest.mark.parametrize("topology", [{"ttl": 30, "delay": 1.5,
                                       "extra": ["--replicas", "service-b=2"]}], indirect=True)
def test_a_surviving_replica_takes_the_killed_step_over_at_once(topology: EnvCli) -> None:
    cli = topology
    done: dict[str, Any] = {}
    # node ids first: a status call between the step's start and the kill could outlast the step
    node_ids = {name: cli.node(name)["node_id"] for name in ("service-b-1", "service-b-2")}
    start_flow(cli, "failover-replica", 51, done)
    wait_until(lambda: bar_started_not_ended(cli.home, 51), 30, "bar(51) to start its step")
    runner = next(e.node for e in read_ledger(cli.home / "ledger")
                  if e.func == "bar" and e.arg == 51)
    survivor = next(n for n in ("service-b-1", "service-b-2") if n != runner)
    dead_id = node_ids[runner]
    killed_at = time.monotonic()
    kill = cli.run("kill", runner)  # no respawn: the other replica must take over
    assert kill.returncode == 0, kill.stderr
    wait_until(lambda: "at" in done, 8.0, "the survivor to finish the flow")
    assert done.get("answer", {}).get("message") == 53, done
    assert done["at"] - killed_at < 1.5 + 2.0, "more than the step plus a little"
    ends = [e.node for e in read_ledger(cli.home / "ledger")
            if e.func == "bar" and e.arg == 51 and e.phase == "end"]
    assert ends == [survivor], ends
    released = [(e["node"], e["node_id"]) for e in events(cli) if e["kind"] == "released"]
    assert released == [(runner, dead_id)], released


@pytest.mark.parametrize("topology", [{"ttl": 10, "delay": 1.5,
                                       "env": {"RPCDEMO_NO_FAILOVER": "1"}}], indirect=True)
def test_with_failover_off_nothing_is_released_and_the_flow_waits_for_the_lease(
    topology: EnvCli,
) -> None:
    cli = topology
    done, killed_at, _ = kill_bar_mid_step(cli, 42)
    wait_until(lambda: cli.node("service-b-1")["state"] == "ready", 10, "service-b-1 respawned")
    # the lease lapses 5-10 s after the kill (heartbeats every TTL/2); with failover the
    # flow would be done ~1.5 s after the respawn
    stuck_until = killed_at + 3.5
    while time.monotonic() < stuck_until:
        assert "at" not in done, f"finished before the lease lapsed: {done}"
        time.sleep(0.05)
    wait_until(lambda: "at" in done, 30, "the flow to finish once the lease lapsed")
    assert done.get("answer", {}).get("message") == 44, done
    assert done["at"] - killed_at > 3.5
    assert [e for e in events(cli) if e["kind"] == "released"] == []


def test_the_releaser_talks_only_to_a_server_with_the_extra(tmp_path: Path) -> None:
    with proc_group() as procs:
        extras_url, _ = start_server(procs, tmp_path, "--memory")
        plain_url, _ = start_server(procs, tmp_path, "--memory", "--no-extras")
        dead_url = f"http://127.0.0.1:{free_port()}"
        outcomes = {}
        for label, url in (("extras", extras_url), ("plain", plain_url), ("dead", dead_url)):
            releaser = ReleaseWorker(ExtrasRelease(url, timeout_s=1.0))
            releaser.release(f"service-b-{label}", "0123abcd")
            got = wait_until(releaser.outcomes, 10, f"the release against {label}")
            releaser.close()
            assert got is not None and len(got) == 1
            outcomes[label] = got[0]
        assert outcomes["extras"].released == () and outcomes["extras"].node == "service-b-extras"
        assert "0 lease(s) of 0123abcd" in outcomes["extras"].detail
        for label in ("plain", "dead"):
            assert outcomes[label].released is None, outcomes[label]
            assert "TTL" in outcomes[label].detail, outcomes[label]
