"""The polyglot variant end to end: service-h and service-i on Resonate's TypeScript SDK.

``up --variant polyglot`` runs ``rax`` and ``dop`` in Node (``services/ts``) beside the
seven Python services, on our embedded server. The fan-out crosses languages (zim in
Python awaits rax and dop in TypeScript): its value must be the oracle's, a TS node
killed mid-step and respawned must still give the right value, its promises must show
in ``status`` and ``tree``, and ``down`` (or kill -9 of the supervisor) must leave no
Node process. Then a 30 s chaos run with kills, pauses and partitions must prove
nothing lost, nothing wrong and no completed step run again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from resonate_rpc_cli.contracts.ledger import LedgerEntry, read_ledger
from resonate_rpc_cli.supervisor import variants
from tests.e2e._cli_support import Cli, assert_nothing_left, end_leftovers, new_cli
from tests.e2e.test_chaos_run import assert_proved
from tests.procs import processes_of_home, short_home, wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        variants.node_binary() is None
        or not (variants.ts_dir() / variants.TS_SDK_MARKER).is_file(),
        reason="Node or the TypeScript SDK is not installed (scripts/bootstrap: npm ci)"),
]

TS_GROUPS = tuple(variants.TS_SCRIPTS)


def node_processes(home_procs: list[psutil.Process]) -> list[psutil.Process]:
    """The Node processes among ``home_procs``."""
    found = []
    for proc in home_procs:
        try:
            if any(part.endswith(".mjs") for part in proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def home_processes(cli: Cli) -> list[psutil.Process]:
    return processes_of_home(cli.home)


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    """The polyglot topology, rax's step taking 3 s (so a kill lands mid-step)."""
    with short_home() as home:
        c = new_cli(home)
        try:
            up = c.run(*c.up_args("--detach", "--variant", "polyglot", "--ttl", "3",
                                  "--delay", "service-h=3"))
            assert up.returncode == 0, (up.stdout, up.stderr)
            yield c
        finally:
            c.run("down")
            left = end_leftovers(home)
            assert not left, f"left running after down: {left}"


def info(cli: Cli) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{cli.server_port}/rpcdemo/info",
                                timeout=5) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def test_ts_nodes_are_node_processes_whose_listeners_the_server_sees(cli: Cli) -> None:
    nodes = {n["name"]: n for n in cli.json("status")["nodes"]}
    listeners = info(cli)["listeners"]
    for group in TS_GROUPS:
        node = nodes[f"{group}-1"]
        assert node["state"] == "ready", node
        cmdline = psutil.Process(node["pid"]).cmdline()
        assert cmdline[-1].endswith(variants.TS_SCRIPTS[group]), cmdline
        # ready means the SSE listener is connected: the server lists its pid in the group
        assert node["node_id"] in listeners.get(group, []), listeners


def test_flows_give_the_oracle_values_across_languages(cli: Cli) -> None:
    fan = cli.json("run", "fan-out", "--fresh", "--arg", "5")
    assert (fan["state"], fan["result"]) == ("resolved", 21), fan
    tree = cli.json("tree", fan["promise_id"])
    by_func = {p["func"]: p for p in tree["promises"]}
    assert {"zim", "rax", "dop"} <= set(by_func), tree
    assert all(p["state"] == "resolved" for p in tree["promises"]), tree
    ts_lines = [e for e in read_ledger(cli.home / "ledger")
                if e.func in ("rax", "dop") and e.promise_id.startswith(fan["promise_id"])]
    assert sorted((e.func, e.phase, e.value) for e in ts_lines) == [
        ("dop", "end", 10), ("dop", "start", None), ("rax", "end", 6), ("rax", "start", None)]
    assert {e.node for e in ts_lines} == {"service-h-1", "service-i-1"}


def rax_starts(cli: Cli, root: str) -> list[LedgerEntry]:
    return [e for e in read_ledger(cli.home / "ledger")
            if e.func == "rax" and e.phase == "start" and e.promise_id.startswith(root)]


def test_kill_of_a_ts_node_mid_step_with_respawn_still_answers_right(cli: Cli) -> None:
    before = cli.node("service-h-1")
    root = f"ts-kill-{uuid.uuid4().hex[:8]}"
    run = subprocess.Popen(
        cli.argv("run", "fan-out", "--id", root, "--arg", "7", "--json", "--timeout", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # the ledger is read and the node paused directly (ms, where a CLI call takes
        # seconds on a loaded machine), so the kill below lands mid-step
        wait_until(lambda: rax_starts(cli, root), 15, "service-h-1 to start rax")
        os.kill(before["pid"], signal.SIGSTOP)
        # the TS step's promises show in status while it is stuck mid-step
        status = cli.json("status")
        assert status["promises"]["counts"]["pending"] >= 2, status["promises"]
        assert {p["id"] for p in status["promises"]["pending"]} >= {root, f"{root}:1"}, \
            status["promises"]
        # and in the live view: the TS call, its function and its holder
        view = cli.run("watch", "--duration", "1").stdout
        assert f"{root}:1" in view and "rax@service-h" in view, view
        kill = cli.json("kill", "service-h", "--respawn")
        assert kill["killed"] == [{"name": "service-h-1", "pid": before["pid"],
                                   "signal": "KILL"}]
        assert kill["respawned"][0]["pid"] != before["pid"]
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, (out, err)
    doc = json.loads(out)
    assert (doc["state"], doc["result"]) == ("resolved", 29), doc
    starts = rax_starts(cli, root)
    # the killed incarnation started the step; the respawned one ran it again
    assert len({e.node_id for e in starts}) == 2, starts
    assert before["node_id"] in {e.node_id for e in starts}
    after = cli.node("service-h-1")
    assert after["node_id"] != before["node_id"] and after["state"] == "ready"


def test_chaos_on_the_polyglot_variant_proves_nothing_lost_or_rerun_and_kill_9_leaves_nothing(
) -> None:
    with short_home() as home:
        c = new_cli(home)
        try:
            up = c.run(*c.up_args("--detach", "--variant", "polyglot", "--links",
                                  "--ttl", "2", "--step-delay", "0.2"))
            assert up.returncode == 0, up.stderr
            chaos = c.run("chaos", "--duration", "30", "--faults", "kill,pause,partition",
                          "--seed", "7", "--json", timeout=240)
            report = json.loads(chaos.stdout) if chaos.stdout.strip().startswith("{") else {}
            assert chaos.returncode == 0, (chaos.returncode, chaos.stderr[-3000:])
            assert_proved(report)
            ts_steps = {e.func for e in read_ledger(home / "ledger") if e.phase == "end"}
            assert {"rax", "dop"} <= ts_steps, ts_steps
            # kill -9 of the supervisor: the lifeline takes the Node processes down too
            # (`down` is the module fixture's teardown)
            procs = home_processes(c)
            assert len(node_processes(procs)) == 2, [p.cmdline() for p in procs]
            os.kill(c.json("status")["supervisor"]["pid"], signal.SIGKILL)
            assert_nothing_left(home, timeout=6.0)
        finally:
            end_leftovers(home)
