"""The checks of `rpcdemo promise` and `rpcdemo flow` on a running topology, shared by the
embedded server's e2e tests and resonate-pg's (each brings its topology and its way to
create a human-in-the-loop promise).

The await chain's topology runs service-b's step for :data:`BAR_DELAY_S`: the
tree of a chain caught in that step is ROOT (foo, suspended), ROOT:1 (bar, its
lease held by service-b-1), ROOT:1.1 and ROOT:1.1.1 (baz and its step, resolved),
ROOT:1.2 (bar's step, pending).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import read_ledger
from resonate_rpc_cli.observe.steps import flow_steps
from tests.e2e._cli_support import Cli
from tests.procs import wait_until

BAR_DELAY_S = 10.0
TOPOLOGY = ("--only", "gateway,service-a,service-b,service-c",
            "--delay", f"service-b={BAR_DELAY_S:g}")


def one_line_error(proc: Any, code: int, *words: str) -> str:
    """``proc`` exited ``code`` with one stderr line holding ``words`` and no stdout."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("rpcdemo: "), proc.stderr
    assert all(w in lines[0] for w in words), (words, lines[0])
    assert proc.stdout == ""
    return str(lines[0])


def check_human_in_the_loop(cli: Cli, ids: tuple[str, str, str]) -> None:
    """Three pending promises (created by the caller) resolved, rejected and canceled."""
    approve, deny, drop = ids
    assert cli.json("promise", "get", approve)["state"] == "pending"
    done = cli.json("promise", "resolve", approve, "--value", '{"approved": true, "by": "ann"}')
    assert (done["id"], done["previous"], done["state"]) == (approve, "pending", "resolved")
    got = cli.json("promise", "get", approve)
    assert got["state"] == "resolved" and got["value"] == {"approved": True, "by": "ann"}
    assert got["settled_ms"] is not None
    text = cli.run("promise", "get", approve)
    assert text.returncode == 0 and "resolved" in text.stdout and "approved" in text.stdout
    # settled already: nothing changes, exit 1
    again = cli.run("promise", "reject", approve, "--json")
    one_line_error(again, 1, f"{approve} is already resolved", "nothing changed")
    assert cli.json("promise", "get", approve)["value"] == {"approved": True, "by": "ann"}
    rejected = cli.json("promise", "reject", deny)
    assert rejected["state"] == "rejected"
    assert rejected["value"] == {"__type": "error", "message": "rejected by rpcdemo"}
    canceled = cli.run("promise", "cancel", drop, "--value", '"not needed"')
    assert canceled.returncode == 0 and "rejected_canceled" in canceled.stdout, canceled
    assert cli.json("promise", "get", drop)["value"] == "not needed"
    # bad input, one line each, exit 2
    one_line_error(cli.run("promise", "resolve", "no-such-promise"), 2, "no promise",
                   "no-such-promise")
    one_line_error(cli.run("promise", "get", "no-such-promise"), 2, "no promise")
    one_line_error(cli.run("promise", "resolve", drop, "--value", "{nope"), 2,
                   "--value is not JSON")


def start_chain(cli: Cli) -> str:
    """Start an await chain without waiting for it; its root id."""
    proc = cli.run("run", "await-chain", "--fresh", "--timeout", "0.2", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["state"] == "timeout", (doc, proc.stderr)
    return str(doc["promise_id"])


def in_bar_step(home: Path, root: str) -> dict[str, Any]:
    """Poll (in process: a CLI start takes a second here) until bar's lease is held and its
    step has started; the steps by id."""
    def probe() -> dict[str, Any] | None:
        steps = {s.id: s for s in flow_steps(Home(home), root).steps}
        bar = steps.get(f"{root}:1")
        run = steps.get(f"{root}:1.2")
        if bar and bar.holder and run and run.attempts:
            return steps
        return None

    found = wait_until(probe, 60, f"bar's step of {root} under way", interval=0.1)
    assert found is not None
    return found


def check_cancel_mid_step(cli: Cli, root: str, *, lease_left: bool) -> None:
    """Cancel ``root`` while bar's step runs: the pending promises become rejected_canceled,
    the settled ones stay as they were, and stay so after the step ends."""
    seen = in_bar_step(cli.home, root)
    settled = {i: (s.state, s.settled_ms) for i, s in seen.items() if s.state != "pending"}
    assert set(settled) == {f"{root}:1.1", f"{root}:1.1.1"}, seen
    steps = {s["id"]: s for s in cli.json("flow", "steps", root)["steps"]}
    bar = steps[f"{root}:1"]
    assert bar["holder"] == "service-b-1" and bar["task"] == "acquired", bar
    if lease_left:  # the embedded server's extras: the lease counts down from the TTL
        assert bar["lease_left_s"] is not None and bar["lease_left_s"] > 0
        assert bar["leases"] >= 1
    else:
        assert bar["lease_left_s"] is None and bar["leases"] is None
    done = cli.json("flow", "cancel", root)
    assert done["canceled"] == [root, f"{root}:1", f"{root}:1.2"], done
    assert done["left"] == {f"{root}:1.1": "resolved", f"{root}:1.1.1": "resolved"}

    def tree_after() -> dict[str, Any]:
        return {p["id"]: p for p in cli.json("tree", root)["promises"]}

    after = tree_after()
    assert after[root]["state"] == "rejected_canceled"
    assert after[root]["value"]["message"] == "canceled by rpcdemo flow cancel"
    assert {i: (p["state"], p["settled_ms"]) for i, p in after.items()
            if i in settled} == settled
    assert after[f"{root}:1.1"]["value"] == 1  # baz's value, as it was
    # the step ends on service-b-1; what it sends then changes nothing
    wait_until(lambda: _ended(cli.home, f"{root}:1.2"), BAR_DELAY_S + 30,
               "bar's step to end", interval=0.2)
    final = tree_after()
    assert {i: p["state"] for i, p in final.items()} == {i: p["state"] for i, p in after.items()}
    one_line_error(cli.run("flow", "cancel", root), 1, "nothing pending", root)


def _ended(home: Path, step_id: str) -> bool:
    return any(e.step_id == step_id and e.phase == "end" for e in read_ledger(home / "ledger"))


def check_steps_of_a_finished_chain(cli: Cli) -> list[str]:
    """Every promise of a finished chain, root first, with one attempt on the right node;
    the notices of what the server could not tell."""
    chain = cli.json("run", "await-chain", "--fresh", timeout=120)
    assert chain["result"] == 3
    root = str(chain["promise_id"])
    doc = cli.json("flow", "steps", root)
    assert doc["root"] == root
    steps = {s["id"]: s for s in doc["steps"]}
    assert doc["steps"][0]["id"] == root
    assert set(steps) == {root, f"{root}:1", f"{root}:1.1", f"{root}:1.1.1", f"{root}:1.2",
                          f"{root}:2"}
    assert all(s["state"] == "resolved" and s["holder"] is None for s in steps.values())
    for pid, call, node in ((root, "foo@service-a", "service-a-1"),
                            (f"{root}:1", "bar@service-b", "service-b-1"),
                            (f"{root}:1.1", "baz@service-c", "service-c-1"),
                            (f"{root}:1.2", "(run)", "service-b-1")):
        step = steps[pid]
        assert (step["call"], step["attempts"], step["ends"], step["nodes"]) == (
            call, 1, 1, [node]), step
    assert steps[f"{root}:1.2"]["took_ms"] >= BAR_DELAY_S * 1000 - 100
    assert steps[root]["took_ms"] >= steps[f"{root}:1.2"]["took_ms"]
    text = cli.run("flow", "steps", root)
    assert text.returncode == 0 and "ROOT" in text.stdout and "bar@service-b" in text.stdout
    one_line_error(cli.run("flow", "steps", "no-such-flow"), 2, "no promise", "no-such-flow")
    return [str(n) for n in doc["notices"]]
