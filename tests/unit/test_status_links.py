"""``status`` with ``links``: the supervisor answers the topology and every link's status in
one round trip (``supervisor/control.py``), and ``read_topology`` reads them from it.

A fake-process supervisor behind the real control socket, with a real link switchboard.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.links.switchboard import Switchboard
from resonate_rpc_cli.observe.picture import read_topology
from resonate_rpc_cli.supervisor.client import SupervisorClient, TopologyStatus
from tests.cli._fake_supervisor import Running, fake_supervisor
from tests.procs import short_home
from tests.unit._busy_links import busy_loop


@pytest.fixture
def running() -> Iterator[Running]:
    with short_home() as root, fake_supervisor(root) as sup:
        yield sup


@pytest.fixture
def switchboard(running: Running) -> Iterator[Switchboard]:
    with socket.socket() as s:  # a port nobody listens on: statuses need no server
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    started = Switchboard(("127.0.0.1", port)).start()
    for name in ("gateway", "service-a-1"):
        started.url_for(name)
    running.server.links = started
    try:
        yield started
    finally:
        running.server.links = None
        started.close()


def test_status_with_links_carries_what_links_status_answers(
        running: Running, switchboard: Switchboard) -> None:
    home = Home(running.home)
    LinkClient(home).partition("gateway", for_s=30)
    sup = SupervisorClient(home).status(links=True)
    separate = [s.to_dict() for s in LinkClient(home).status()]
    assert sup.raw.get("links") == separate
    assert [(d["node"], d["state"]) for d in separate] == [
        ("gateway", "partitioned"), ("service-a-1", "ok")]
    assert "links" not in SupervisorClient(home).status().raw  # only when asked
    _, links = read_topology(home)
    assert links is not None and [s.to_dict() for s in links] == separate


def test_without_a_switchboard_the_links_are_none(running: Running) -> None:
    home = Home(running.home)
    assert SupervisorClient(home).status(links=True).raw.get("links", "absent") is None
    assert read_topology(home)[1] is None


def test_a_supervisor_that_does_not_answer_links_is_asked_for_them_apart(
        running: Running, switchboard: Switchboard, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Home(running.home)
    plain = SupervisorClient.status

    def older(self: SupervisorClient, *, since: int = 0, timeout_s: float | None = None,
              links: bool = False) -> TopologyStatus:
        return plain(self, since=since, timeout_s=timeout_s)  # as before: no links

    monkeypatch.setattr(SupervisorClient, "status", older)
    _, links = read_topology(home)
    assert links is not None and [s.node for s in links] == ["gateway", "service-a-1"]



def test_busy_links_hold_status_up_for_as_long_as_the_cli_once_waited_not_longer(
        running: Running, switchboard: Switchboard, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("resonate_rpc_cli.supervisor.control.LINKS_IN_STATUS_S", 0.3)
    with busy_loop(switchboard):
        started = time.monotonic()
        status = SupervisorClient(Home(running.home)).status(links=True)
        took = time.monotonic() - started
    assert status.raw.get("links", "absent") is None
    assert took < 3.0, took  # the switchboard's own patience is 5 s
