"""e2e: a topology with Resonate's token auth on (`up --auth`), driven through the real CLI.

The server refuses whoever has no token, while the seed's flows, a kill with
respawn mid-step and a short chaos run (node and server kills) all pass: every
node got its token, and the CLI's reads, the supervisor's lease release and the
restarted server all use HOME's key.
"""

from __future__ import annotations

import json
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e._cli_support import Cli, end_leftovers, new_cli, running_topology, short_home
from tests.e2e.test_chaos_run import assert_proved
from tests.procs import processes_of_home, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    with running_topology("--auth", "--ttl", "2", "--delay", "service-b=4") as c:
        yield c


def _status(url: str, body: bytes | None = None) -> int:
    req = urllib.request.Request(url, data=body, method="POST" if body else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def test_the_server_refuses_anyone_without_a_token(cli: Cli) -> None:
    base = f"http://127.0.0.1:{cli.server_port}"
    envelope = {"kind": "promise.search", "head": {"corrId": "x", "version": "2026-04-01"},
                "data": {}}
    assert _status(base + "/", json.dumps(envelope).encode()) == 401
    assert _status(base + "/rpcdemo/info") == 401
    assert _status(base + "/health") == 200
    private = cli.home / "auth" / "private.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    logs = "".join(p.read_text(errors="replace") for p in (cli.home / "logs").iterdir())
    assert "eyJ" not in logs and "PRIVATE KEY" not in logs  # no token, no key in any log


@pytest.mark.parametrize(("flow", "args", "value"), [
    ("await-chain", ["--arg", "5"], 7),
    ("fan-out", ["--arg", "3"], 13),
    ("detached-chain", ["--arg", "2", "--wait"], 4),
])
def test_the_seed_flows_run(cli: Cli, flow: str, args: list[str], value: int) -> None:
    doc = cli.json("run", flow, "--fresh", *args, "--timeout", "30")
    assert (doc["state"], doc["result"]) == ("resolved", value), doc


def test_kill_mid_step_with_respawn(cli: Cli) -> None:
    before = cli.node("service-b-1")
    run = subprocess.Popen(
        cli.argv("run", "await-chain", "--fresh", "--arg", "10", "--json", "--timeout", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_until(lambda: cli.node("service-b-1")["task"], 15, "service-b-1 to hold a task")
        kill = cli.json("kill", "service-b", "--respawn")
        assert kill["respawned"][0]["pid"] != before["pid"]
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, (out, err)
    doc = json.loads(out)
    assert (doc["state"], doc["result"]) == ("resolved", 12), doc
    tree = cli.json("tree", doc["promise_id"])
    assert all(p["state"] == "resolved" for p in tree["promises"]), tree


def test_a_short_chaos_run_passes(cli: Cli) -> None:
    proc = cli.run("chaos", "--flows", "12", "--concurrency", "3", "--faults", "kill,server",
                   "--interval", "0.5:1.2", "--down", "0.3:0.8", "--seed", "5",
                   "--fault-count", "4", "--deadline", "60", "--json", timeout=180)
    report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:], proc.stdout[-3000:])
    assert_proved(report)
    assert report["faults"]["by_kind"].get("server", 0) >= 1, report["faults"]
    nodes = cli.json("status")["nodes"]
    wait_until(lambda: all(n["state"] == "ready" for n in cli.json("status")["nodes"]), 30,
               f"every node ready again: {nodes}")
    # the server the chaos run restarted still checks tokens
    assert _status(f"http://127.0.0.1:{cli.server_port}/rpcdemo/info") == 401


def test_up_on_every_interface_needs_auth_or_insecure() -> None:
    with short_home() as home:
        c = new_cli(home)
        refused = c.run(*c.up_args("--detach", "--host", "0.0.0.0"))
        assert refused.returncode == 2, (refused.stdout, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1 and "--auth" in refused.stderr
        assert not home.exists() and not processes_of_home(home), "nothing was started"
        try:
            started = c.run(*c.up_args("--detach", "--host", "0.0.0.0", "--insecure"))
            assert started.returncode == 0, (started.stdout, started.stderr)
            assert "insecure" in started.stderr and "without tokens" in started.stderr
        finally:
            c.run("down")
            left = end_leftovers(home)
            assert not left, left
