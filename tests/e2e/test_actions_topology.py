"""e2e: every action of the live view's keys (and the browser console's buttons) on a real
`up --detach --links` topology, through the actions core: kill and kill+respawn of the node
holding a step (its flow still completes with the right value), respawn, scale, pause and
resume, partition and heal with links, a pending promise resolved, rejected and canceled;
and a key pressed in the live view's model shows its effect at the next refresh.

The same keys pressed in a real terminal: test_live_keys_tmux.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts.errors import ExitStatus
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.observe import actions
from resonate_rpc_cli.observe.actions import Done, Outcome, Refused
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.observe.picture import picture
from resonate_rpc_cli.supervisor.client import SupervisorClient
from tests.e2e._cli_support import Cli, running_topology
from tests.procs import wait_until

pytestmark = pytest.mark.e2e

STEP_S = 2.0
TOPOLOGY = ("--links", "--ttl", "3", "--delay", f"service-b={STEP_S:g}",
            "--replicas", "service-b=2", "--only", "gateway,service-a,service-b,service-c")


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    with running_topology(*TOPOLOGY) as c:
        yield c


def _done(outcome: Outcome) -> Done:
    assert isinstance(outcome, Done), outcome
    assert outcome.ok and "\n" not in outcome.message
    return outcome


def _states(home: Home) -> dict[str, str]:
    return {n.name: n.state for n in SupervisorClient(home).status().nodes}


def _holder_of_bar(home: Home) -> str:
    """Poll until a service-b node holds a task (bar's step, held for STEP_S); its name."""
    def probe() -> str | None:
        return next((line.row.name for line in picture(home).nodes
                     if line.row.group == "service-b" and line.tasks), None)
    found = wait_until(probe, 30, "a service-b node holding bar's step", interval=0.05)
    assert found is not None
    return found


def _run_while(home: Home, act: str) -> tuple[Done, Done]:
    """Run an await chain through the core; ``act`` on the service-b node holding its step
    while it runs. The action's and the run's outcomes."""
    ran: list[Outcome] = []
    runner = threading.Thread(target=lambda: ran.append(actions.perform(home, "run",
                                                                        "await-chain")))
    runner.start()
    try:
        holder = _holder_of_bar(home)
        done = _done(actions.perform(home, act, holder))
    finally:
        runner.join(90)
    assert ran, "the flow did not answer within 90 s"
    return done, _done(ran[0])


@pytest.mark.parametrize("act", ["kill", "kill-respawn"])
def test_killing_the_node_holding_a_step_the_flow_still_completes(cli: Cli, act: str) -> None:
    home = Home(cli.home)
    before = {n.name: n for n in SupervisorClient(home).status().nodes}
    done, run = _run_while(home, act)
    assert run.flow is not None and run.flow.state == "resolved" and run.flow.result == 3, run
    assert run.flow.promise_id.startswith("await-chain-")
    victim = done.target
    assert done.message.startswith(f"killed {victim} (pid {before[victim].pid})"), done
    if act == "kill":
        assert done.nodes == () and _states(home)[victim] == "killed"
        again = _done(actions.perform(home, "respawn", victim))
        assert again.message.startswith(f"respawned {victim}")
    else:
        again = done
    (new,) = again.nodes
    assert new.name == victim and new.pid != before[victim].pid
    assert psutil.pid_exists(new.pid) and not psutil.pid_exists(int(before[victim].pid or 0))
    wait_until(lambda: _states(home)[victim] == "ready", 15, f"{victim} ready again")


def test_scale_a_group_up_down_and_to_a_size(cli: Cli) -> None:
    home = Home(cli.home)

    def group() -> list[str]:
        return sorted(n.name for n in SupervisorClient(home).status().in_group("service-b")
                      if not n.retiring)

    assert group() == ["service-b-1", "service-b-2"]
    up = _done(actions.perform(home, "scale-up", "service-b"))
    assert "started service-b-3" in up.message and group() == [
        "service-b-1", "service-b-2", "service-b-3"]
    assert {n.name for n in up.nodes} == {"service-b-1", "service-b-2", "service-b-3"}
    down = _done(actions.perform(home, "scale-down", "service-b"))
    assert "stopped service-b-3" in down.message and len(group()) == 2
    one = _done(actions.perform(home, "scale", "service-b", "1"))
    assert one.message.startswith("service-b: 1 node(s)") and group() == ["service-b-1"]
    _done(actions.perform(home, "scale", "service-b", "2"))
    assert group() == ["service-b-1", "service-b-2"]
    bad = actions.perform(home, "scale", "service-b", "99")
    assert isinstance(bad, Refused) and bad.status == ExitStatus.USAGE and "0 to" in bad.message


def test_pause_and_resume_by_key_show_at_the_next_refresh(cli: Cli) -> None:
    """Keys pressed in the live view's model: the action runs as in the view (on its own
    thread), and the next refresh after it ends shows the node paused, then running."""
    home = Home(cli.home)
    model = LiveModel(home)
    model.controls.interactive = True
    model.refresh()
    rows = [r.target.id for r in model.rows()]
    for _ in range(rows.index("service-c-1")):
        model.press("j")
    assert model.controls.selected == "node:service-c-1"
    pid = next(n.pid for n in model.nodes if n.name == "service-c-1")
    assert pid is not None
    for key, state, proc in (("p", "paused", psutil.STATUS_STOPPED),
                             ("p", "ready", None)):
        pressed = time.monotonic()
        model.press(key)

        def shown(want: str = state) -> bool:
            model.refresh()
            return not model.controls.running and any(
                n.name == "service-c-1" and n.state == want for n in model.nodes)

        wait_until(shown, 10, f"service-c-1 {state} in the model", interval=0.05)
        # the effect is drawn within a second of the key (here: the action's answer + one poll)
        took = time.monotonic() - pressed
        print(f"key {key!r} to service-c-1 {state} in the model: {took * 1000:.0f} ms")
        assert took < 1.0, took
        assert model.controls.last is not None and model.controls.last.ok, model.controls.last
        status = psutil.Process(pid).status()
        assert (status == proc) if proc else (status != psutil.STATUS_STOPPED), status


def test_partition_and_heal_a_nodes_link(cli: Cli) -> None:
    home = Home(cli.home)
    cut = _done(actions.perform(home, "partition", "service-c-1"))
    assert [(link.node, link.state) for link in cut.links] == [("service-c-1", "partitioned")]
    links = {link.node: link.state for link in LinkClient(home).status()}
    assert links["service-c-1"] == "partitioned" and links["service-a-1"] == "ok"
    faults = SupervisorClient(home).status().fault_rows()
    assert [(f.kind, f.node, f.holder) for f in faults] == [
        ("partition", "service-c-1", "net")], faults
    healed = _done(actions.perform(home, "heal-link", "service-c-1"))
    assert [(link.node, link.state) for link in healed.links] == [("service-c-1", "ok")]
    assert SupervisorClient(home).status().fault_rows() == []
    # the chain still runs through service-c-1's healed link
    run = _done(actions.perform(home, "run", "await-chain"))
    assert run.flow is not None and run.flow.result == 3


def test_resolve_reject_and_cancel_a_pending_promise(cli: Cli) -> None:
    home = Home(cli.home)
    client = ResonateClient(f"http://127.0.0.1:{cli.server_port}")
    stamp = time.time_ns()
    ids = [f"approval-{k}-{stamp}" for k in ("a", "b", "c")]
    for pid in ids:  # what a workflow awaiting a person's answer creates
        client.request("promise.create", {"id": pid, "param": {}, "tags": {},
                                          "timeoutAt": int(time.time() * 1000) + 3_600_000})
    # the live view lists each as a root of its own, with the keys of a pending promise
    model = LiveModel(home)

    def listed() -> bool:
        model.refresh()
        refs = {r.target.ref for r in model.rows()}
        return all(f"promise:{i}" in refs for i in ids)

    wait_until(listed, 10, "the pending promises as rows", interval=0.2)
    resolved = _done(actions.perform(home, "resolve", ids[0], '{"approved": true}'))
    assert resolved.promise is not None and resolved.promise.state == "resolved"
    assert resolved.promise.value == {"approved": True}
    rejected = _done(actions.perform(home, "reject", ids[1], ""))
    assert rejected.promise is not None and rejected.promise.state == "rejected"
    canceled = _done(actions.perform(home, "cancel", ids[2]))
    assert canceled.promise is not None and canceled.promise.state == "rejected_canceled"
    again = actions.perform(home, "cancel", ids[0])
    assert isinstance(again, Refused) and again.status == ExitStatus.FAILED
    assert again.message == f"{ids[0]} is already resolved: nothing changed"
    bad = actions.perform(home, "resolve", ids[0], "{nope")
    assert isinstance(bad, Refused) and bad.status == ExitStatus.USAGE


def test_cancel_a_running_flow(cli: Cli) -> None:
    """The flow row's c: the chain's pending promises are canceled, its caller told so."""
    home = Home(cli.home)
    ran: list[Outcome] = []
    runner = threading.Thread(target=lambda: ran.append(actions.perform(home, "run",
                                                                        "await-chain")))
    runner.start()
    try:
        _holder_of_bar(home)
        root = next(p.promise.id for p in picture(home).pending if p.promise.func == "foo")
        done = _done(actions.perform(home, "cancel-flow", root))
    finally:
        runner.join(90)
    assert done.canceled is not None and root in done.canceled.canceled
    assert done.message.startswith(f"canceled {len(done.canceled.canceled)} pending")
    run = _done(ran[0])
    assert run.flow is not None and run.flow.state == "rejected", run.flow
    again = actions.perform(home, "cancel-flow", root)
    assert isinstance(again, Refused) and "nothing pending" in again.message


def test_an_unknown_node_is_refused_in_one_line(cli: Cli) -> None:
    refused = actions.perform(Home(cli.home), "kill", "service-z-1")
    assert isinstance(refused, Refused) and refused.status == ExitStatus.USAGE
    assert "service-z-1" in refused.message and "\n" not in refused.message
