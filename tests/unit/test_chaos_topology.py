"""SupervisedTopology (chaos/topology.py) over a real control socket, with fake processes
behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resonate_rpc_cli.chaos.topology import (
    DOWN,
    PAUSED,
    RUNNING,
    SupervisedTopology,
    heal_everything,
)
from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from tests.cli._fake_supervisor import Running, fake_supervisor
from tests.procs import short_home


@pytest.fixture
def running() -> Iterator[Running]:
    with short_home() as home, fake_supervisor(home) as sup:
        yield sup


def test_reads_the_topology_and_maps_states(running: Running) -> None:
    topo = SupervisedTopology(Home(running.home))
    assert topo.gateway_url.startswith("http://127.0.0.1:")
    assert topo.server_url.startswith("http://127.0.0.1:")
    assert topo.ledger_dir == Home(running.home).ledger_dir
    nodes = {n.name: n for n in topo.nodes()}
    assert {"server", "gateway", "service-a-1", "service-i-1"} <= nodes.keys()
    assert all(n.state == RUNNING and n.pid for n in nodes.values()), nodes
    assert nodes["service-b-1"].node_id and nodes["service-b-1"].group == "service-b"


def test_kill_pause_resume_respawn(running: Running) -> None:
    topo = SupervisedTopology(Home(running.home), ready_timeout_s=5)
    old = next(n for n in topo.nodes() if n.name == "service-b-1")
    assert topo.kill("service-b-1") == old.pid
    down = next(n for n in topo.nodes() if n.name == "service-b-1")
    assert down.state == DOWN and down.pid is None
    back = topo.respawn("service-b-1")
    assert back.state == RUNNING and back.pid != old.pid and back.node_id != old.node_id
    pid = topo.pause("service-c-1")
    assert next(n for n in topo.nodes() if n.name == "service-c-1").state == PAUSED
    assert topo.resume("service-c-1") == pid
    topo.term("gateway")
    topo.pause("service-d-1")
    assert sorted(heal_everything(topo)) == ["respawned gateway", "resumed service-d-1"]
    assert all(n.state == RUNNING for n in topo.nodes())


def test_errors_are_one_line_usage_errors(running: Running) -> None:
    topo = SupervisedTopology(Home(running.home))
    with pytest.raises(RpcdemoError, match="unknown target 'service-z-1'") as info:
        topo.kill("service-z-1")
    assert info.value.status == ExitStatus.USAGE
    with pytest.raises(RpcdemoError, match="no node of 'service-a-1' can take CONT"):
        topo.resume("service-a-1")
    with pytest.raises(UsageError, match="no node named 'service-z-1'"):
        topo.respawn("service-z-1")


def test_respawn_of_a_node_that_is_not_down_waits_for_it(running: Running) -> None:
    topo = SupervisedTopology(Home(running.home), ready_timeout_s=5)
    before = next(n for n in topo.nodes() if n.name == "service-e-1")
    assert topo.respawn("service-e-1") == before


def test_no_supervisor_is_not_running() -> None:
    with short_home() as home, pytest.raises(NotRunningError, match="nothing is running"):
        SupervisedTopology(Home(home))
