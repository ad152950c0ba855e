"""e2e: a tiny application declared in a topology file, written here on the public SDK only.

Two groups (``orders`` ready by its listener, ``payments`` by a log line), one flow with an
``expect``: ``up``, ``run`` answers the right value, ``kill --respawn`` of the node running
a step mid-step still gives the right value, a link partition, a pause, ``down`` leaves
nothing;
``kill -9`` of the supervisor leaves nothing (the keeper); a command that exits at once
and a readiness that never comes fail ``up`` with exit 3, one line, nothing left, no HOME.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe import actions
from resonate_rpc_cli.observe.actions import Done, Kind, actions_for
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.web.document import console_document
from tests.e2e._cli_support import Cli, assert_nothing_left, end_leftovers
from tests.procs import free_port, short_home, wait_until

pytestmark = pytest.mark.e2e

WORKER = '''\
"""A tiny order app on the public Resonate SDK: it imports nothing of rpcdemo."""
import asyncio
import os
import signal
import sys
from datetime import timedelta

from resonate.context import Context
from resonate.resonate import Resonate


async def charge(ctx: Context, order: str, qty: int) -> dict:
    print(f"charging {order}", flush=True)
    if order == "o-slow":  # long enough to be killed in the middle of it
        await asyncio.sleep(float(os.environ.get("SLOW_CHARGE_SECONDS", "0")))
    return {"charged": qty * 10}


async def place_order(ctx: Context, order: str, qty: int) -> dict:
    paid = await ctx.options(target="payments").rpc("charge", order, qty)
    return {"order": order, "status": "confirmed", "paid": paid["charged"]}


async def main(group: str) -> None:
    resonate = Resonate(url=os.environ["RESONATE_URL"], group=group, ttl=timedelta(seconds=2))
    resonate.register(charge if group == "payments" else place_order)
    print(f"{group} up as {os.environ['RPCDEMO_NODE']}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await resonate.stop()


asyncio.run(main(sys.argv[1]))
'''

TOPOLOGY = '''\
links = true

[server]
port = {port}

[app]
name = "tiny-shop"

[groups.orders]
command = ["python", "worker.py", "orders"]

[groups.payments]
command = "python worker.py payments"
ready = "log:payments up as payments-\\\\d"
env = {{ SLOW_CHARGE_SECONDS = "5" }}

[flows.place-order]
function = "place_order"
group = "orders"
args = ["o-1", 3]
expect = {{ order = "o-1", status = "confirmed", paid = 30 }}

[flows.slow-order]
function = "place_order"
group = "orders"
args = ["o-slow", 2]
expect = {{ order = "o-slow", status = "confirmed", paid = 20 }}
'''

EXPECTED = {"order": "o-1", "status": "confirmed", "paid": 30}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "rpcdemo.toml").write_text(TOPOLOGY.format(port=free_port()))
    return tmp_path


@pytest.fixture
def cli(app_dir: Path) -> Iterator[Cli]:
    with short_home() as home:
        c = Cli(home, 0, 0)
        try:
            yield c
        finally:
            c.run("down")
            left = end_leftovers(home)
            assert not left, f"left running: {left}"


def test_up_run_kill_mid_step_partition_down(cli: Cli, app_dir: Path) -> None:
    config = str(app_dir / "rpcdemo.toml")
    up = cli.run("up", "--detach", "--config", config, timeout=120)
    assert up.returncode == 0, up.stderr
    nodes = {n["name"]: n for n in cli.json("status")["nodes"]}
    assert {name: n["state"] for name, n in nodes.items()} == {
        "server": "ready", "orders-1": "ready", "payments-1": "ready"}
    ran = cli.run("run", "place-order")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == EXPECTED
    _run_key_and_button_run_the_declared_flows(Home(cli.home))

    # kill the payments node while it runs charge; a respawned node runs it again
    server = ResonateClient(cli.json("status")["server"]["url"])
    flow = subprocess.Popen(cli.argv("run", "slow-order", "--id", "po-kill", "--json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _state(server, "po-kill:1") == "pending", 30,
                   "charge to be under way")
        killed = cli.run("kill", "payments", "--respawn")
        assert killed.returncode == 0, killed.stderr
        out, err = flow.communicate(timeout=60)
    finally:
        if flow.poll() is None:
            flow.kill()
    assert flow.returncode == 0, err
    outcome = json.loads(out)
    assert (outcome["state"], outcome["value"], outcome["expected"]) == (
        "resolved", {**EXPECTED, "order": "o-slow", "paid": 20}, True)
    logs = sorted((cli.home / "logs").glob("payments-1.*.log"))
    charged = [log.name for log in logs if "charging o-slow" in log.read_text()]
    assert charged == ["payments-1.1.log", "payments-1.2.log"], \
        f"killed mid-step, charge ran again in the respawned node: {charged}"

    cut = cli.run("net", "partition", "orders-1", "--for", "1")
    assert cut.returncode == 0, cut.stderr
    paused = cli.run("kill", "payments", "--signal", "STOP")
    assert paused.returncode == 0 and cli.node("payments-1")["state"] == "paused", paused.stderr
    assert cli.run("kill", "payments", "--signal", "CONT").returncode == 0
    again = cli.run("run", "place-order", "--timeout", "60")
    assert again.returncode == 0 and json.loads(again.stdout) == EXPECTED, again.stderr
    wrong = cli.run("run", "nope")
    assert wrong.returncode == 2 and "declares: place-order, slow-order" in wrong.stderr

    assert cli.run("down").returncode == 0
    assert_nothing_left(cli.home)


def _run_key_and_button_run_the_declared_flows(home: Home) -> None:
    """The live view's `f` and the console's run button offer the declared flows and run
    one as `rpcdemo run` does: its value, judged against expect."""
    model = LiveModel(home)
    model.controls.interactive = True
    model.refresh()
    flows = [r.target for r in model.rows() if r.target.kind is Kind.FLOW]
    assert [t.id for t in flows[:2]] == ["place-order", "slow-order"], flows
    runnable = console_document(model).to_dict()["runnable"]
    assert [(f["root"], [a["name"] for a in f["actions"]]) for f in runnable] == [
        ("place-order", ["run"]), ("slow-order", ["run"])]
    for _ in range([r.target.ref for r in model.rows()].index("flow:place-order")):
        model.press("j")
    model.press("f")

    def answered() -> bool:
        model.refresh()
        return not model.controls.running and model.controls.last is not None

    wait_until(answered, 30, "the run key's flow to answer", interval=0.05)
    done = model.controls.last
    assert isinstance(done, Done) and done.declared is not None, done
    assert (done.declared.state, done.declared.value, done.declared.expected) == (
        "resolved", EXPECTED, True), done
    assert done.message.startswith("place-order [place-order-") and \
        done.message.endswith("(as expected)"), done.message
    button = actions.perform(home, "run", runnable[0]["root"], "1")  # the page sends its arg
    assert isinstance(button, Done) and button.declared is not None, button
    assert button.to_dict()["flow"] == button.declared.to_dict(), button
    assert button.declared.value == EXPECTED, button
    seed = actions.perform(home, "run", "await-chain")
    assert not seed.ok and "declares (place-order, slow-order)" in seed.message, seed
    group = next(r.also[0] for r in model.rows() if r.target.id == "payments-1")
    assert {a.name for a, _t in actions_for(group)} == {"scale-up", "scale-down", "scale"}
    up = actions.perform(home, "scale-up", "payments")
    assert isinstance(up, Done) and [n.name for n in up.nodes] == ["payments-1", "payments-2"]
    down = actions.perform(home, "scale-down", "payments")
    assert isinstance(down, Done) and "stopped payments-2" in down.message, down


def test_kill_9_of_the_supervisor_leaves_no_node(cli: Cli, app_dir: Path) -> None:
    up = cli.run("up", "--detach", "--config", str(app_dir / "rpcdemo.toml"), timeout=120)
    assert up.returncode == 0, up.stderr
    pids = [n["pid"] for n in cli.json("status")["nodes"] if n["name"] != "server"]
    assert all(pids)
    os.kill(int((cli.home / "run" / "supervisor.pid").read_text()), signal.SIGKILL)
    assert_nothing_left(cli.home, timeout=15)


def _state(server: ResonateClient, promise_id: str) -> str | None:
    record = server.promise_get(promise_id)
    return None if record is None else str(record["state"])


@pytest.mark.parametrize(("group", "message"), [
    ('command = ["python", "-c", "print(\'no database\'); raise SystemExit(4)"]',
     "groups.orders.command exited with 4 before orders-1 was ready: no database"),
    ('command = ["python", "-c", "import time; time.sleep(60)"]\nready = "log:never"\n'
     'ready_timeout = "3s"',
     "groups.orders.ready (log:never) did not come within 3s (ready_timeout) for orders-1"),
])
def test_a_node_that_cannot_start_is_exit_3_and_leaves_nothing(tmp_path: Path, group: str,
                                                                message: str) -> None:
    path = tmp_path / "rpcdemo.toml"
    path.write_text(f"[server]\nport = {free_port()}\n[groups.orders]\n{group}\n")
    with short_home() as home:
        up = Cli(home, 0, 0).run("up", "--detach", "--config", str(path), timeout=120)
        assert up.returncode == 3, (up.stdout, up.stderr)
        assert up.stderr.strip() == f"rpcdemo: {path}: {message}", up.stderr
        assert not home.exists(), "no HOME is left half-created"
        assert_nothing_left(home)
