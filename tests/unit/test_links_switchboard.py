"""The link switchboard and its client: ports per node, targets, fault values, errors.

A real :class:`Switchboard` (its own loop thread, behind a real control socket under a short
temporary HOME) driven through :class:`LinkClient`; the pure target and value
rules on their own.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from resonate_rpc_cli.contracts.errors import ExitStatus, NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.links.rules import check_delay, check_seconds, resolve_target
from resonate_rpc_cli.links.switchboard import Switchboard, start_switchboard, upstream_of
from resonate_rpc_cli.supervisor.control import ControlServer
from tests.procs import short_home, wait_until
from tests.unit._busy_links import busy_loop

NAMES = ["gateway", "service-a-1", "service-b-1", "service-b-2"]


@pytest.fixture
def home() -> Iterator[Home]:
    with short_home() as root:
        h = Home(root)
        h.ensure()
        yield h


@pytest.fixture
def switchboard(home: Home) -> Iterator[Switchboard]:
    with socket.socket() as s:  # a port nobody listens on: the control side needs no server
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    started = Switchboard(("127.0.0.1", port)).start()
    control = ControlServer(home, links=started)  # link ops need no supervisor loop
    control.start()
    try:
        for name in NAMES:
            started.url_for(name)
        yield started
    finally:
        control.close()
        started.close()


def test_each_node_keeps_one_port_and_a_dropped_slot_loses_its_link(
        home: Home, switchboard: Switchboard) -> None:
    urls = {name: switchboard.url_for(name) for name in NAMES}
    assert len(set(urls.values())) == len(NAMES)
    assert all(u.startswith("http://127.0.0.1:") for u in urls.values())
    assert switchboard.url_for("service-b-1") == urls["service-b-1"]  # a respawn keeps its link
    switchboard.drop("service-b-2")
    assert [s.node for s in LinkClient(home).status()] == ["gateway", "service-a-1",
                                                           "service-b-1"]


def test_a_group_target_breaks_every_node_of_the_group_and_heal_clears_all(
        home: Home, switchboard: Switchboard) -> None:
    client = LinkClient(home)
    touched = client.partition("service-b", for_s=30)
    assert [(s.node, s.state) for s in touched] == [
        ("service-b-1", "partitioned"), ("service-b-2", "partitioned")]
    assert all(s.until is not None for s in touched)
    delayed = client.delay("gateway", 200, jitter_ms=50)
    assert [(s.node, s.state, s.delay_ms, s.jitter_ms) for s in delayed] == [
        ("gateway", "delayed", 200, 50)]
    assert [s.node for s in client.reset("service-a-1")] == ["service-a-1"]
    states = {s.node: s.state for s in client.status()}
    assert states == {"gateway": "delayed", "service-a-1": "ok", "service-b-1": "partitioned",
                      "service-b-2": "partitioned"}
    assert [s.node for s in client.heal("service-b-2")] == ["service-b-2"]
    assert len(client.heal()) == len(NAMES)
    assert {s.state for s in client.status()} == {"ok"}


@pytest.mark.parametrize(("call", "message"), [
    (lambda c: c.partition("service-z"), "unknown target 'service-z'"),
    (lambda c: c.partition("service-b-3"), "no link named 'service-b-3'"),
    (lambda c: c.reset("service-c"), "no link of group 'service-c'"),
    (lambda c: c.partition("service-b-1", for_s=0), "--for must be a number of seconds > 0"),
    (lambda c: c.delay("service-b-1", 0), "delay must be > 0 ms"),
    (lambda c: c.delay("service-b-1", 100, jitter_ms=150), "jitter (150 ms) must not exceed"),
    (lambda c: c.delay("service-b-1", -5), "delay must be between 0 and"),
])
def test_bad_targets_and_values_are_one_line_usage_errors(
        home: Home, switchboard: Switchboard, call: object, message: str) -> None:
    with pytest.raises(RpcdemoError) as info:
        call(LinkClient(home))  # type: ignore[operator]
    assert info.value.status is ExitStatus.USAGE
    assert message in str(info.value) and "\n" not in str(info.value)
    assert {s.state for s in LinkClient(home).status()} == {"ok"}  # nothing half-applied


def test_without_a_topology_the_client_says_nothing_runs(home: Home) -> None:
    with pytest.raises(NotRunningError, match="nothing is running"):
        LinkClient(home).status()


def test_resolve_target_keeps_order_and_names_the_valid_links() -> None:
    assert resolve_target("service-b", NAMES) == ["service-b-1", "service-b-2"]
    assert resolve_target("gateway", NAMES) == ["gateway"]
    assert resolve_target("service-b-2", NAMES) == ["service-b-2"]
    with pytest.raises(UsageError, match=r"links: gateway, service-a-1, service-b-1, service-b-2"):
        resolve_target("server", NAMES)


def test_value_rules() -> None:
    assert check_seconds("--for", None) is None
    assert check_seconds("--for", 2) == 2.0
    assert check_delay(200, 50) == (200.0, 50.0)
    for bad in (float("nan"), float("inf"), -1, True):
        with pytest.raises(UsageError):
            check_seconds("--for", bad)


def test_links_front_plain_http_servers_only(home: Home) -> None:
    assert upstream_of("http://127.0.0.1:8001") == ("127.0.0.1", 8001)
    assert upstream_of("http://db-host") == ("db-host", 80)
    assert upstream_of("https://db-host:8443") is None
    assert start_switchboard("https://db-host:8443", enabled=True) is None
    assert start_switchboard("http://127.0.0.1:8001", enabled=False) is None


def test_a_switchboard_that_does_not_answer_is_a_one_line_error_not_a_traceback(
        home: Home, switchboard: Switchboard, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("resonate_rpc_cli.links.switchboard.START_TIMEOUT_S", 0.2)
    with busy_loop(switchboard), pytest.raises(RpcdemoError) as info:
        LinkClient(home).partition("service-b-1", for_s=5)
    assert info.value.status is ExitStatus.FAILED
    assert "did not answer links.partition within 0.2s" in str(info.value)
    assert "\n" not in str(info.value)
    # the refused request was cancelled, not applied once the loop came back
    assert {s.state for s in LinkClient(home).status()} == {"ok"}


def test_a_heal_the_loop_takes_up_late_still_heals(
        home: Home, switchboard: Switchboard, monkeypatch: pytest.MonkeyPatch) -> None:
    LinkClient(home).partition("service-b-1")
    monkeypatch.setattr("resonate_rpc_cli.links.switchboard.START_TIMEOUT_S", 0.2)
    with busy_loop(switchboard), pytest.raises(TimeoutError):
        switchboard.heal_link("service-b-1")
    monkeypatch.setattr("resonate_rpc_cli.links.switchboard.START_TIMEOUT_S", 5.0)
    wait_until(lambda: {s.state for s in LinkClient(home).status()} == {"ok"}, 5,
               "the late heal to clear service-b-1")
