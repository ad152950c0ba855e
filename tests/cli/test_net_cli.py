"""`rpcdemo net`: durations, targets and the three ways it can fail, through the real app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from resonate_rpc_cli.cli.net import parse_duration
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.links.switchboard import Switchboard
from tests.cli._fake_supervisor import Running, rpcdemo


@pytest.fixture
def switchboard(running: Running) -> Iterator[Switchboard]:
    """Links for the fake topology's nodes (nothing listens upstream; no traffic is sent)."""
    started = Switchboard(("127.0.0.1", 9)).start()
    running.server.links = started
    try:
        for name in ("gateway", "service-b-1", "service-c-1"):
            started.url_for(name)
        yield started
    finally:
        running.server.links = None
        started.close()


@pytest.mark.parametrize(("text", "unit", "want"), [
    ("200ms", "ms", 200.0), ("0.2s", "ms", 200.0), ("250", "ms", 250.0),
    ("5", "s", 5.0), ("1500ms", "s", 1.5), (" 2S ", "s", 2.0),
])
def test_durations_take_a_unit_or_the_default_one(text: str, unit: str, want: float) -> None:
    assert parse_duration(text, "delay", unit) == pytest.approx(want)


@pytest.mark.parametrize("text", ["", "fast", "-5ms", "2x", "1e999s"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text, "delay", "ms")


def test_partition_delay_heal_and_status(running: Running, switchboard: Switchboard) -> None:
    code, out, _ = rpcdemo(running.home, "net", "partition", "service-b", "--for", "30")
    assert code == 0 and "service-b-1: partitioned" in out and "heals in" in out
    code, out, _ = rpcdemo(running.home, "net", "delay", "gateway", "200ms", "--jitter", "50ms")
    assert code == 0 and "delayed 200±50 ms" in out
    code, out, _ = rpcdemo(running.home, "net", "status", "--json")
    states = {d["node"]: d["state"] for d in json.loads(out)}
    assert states == {"gateway": "delayed", "service-b-1": "partitioned", "service-c-1": "ok"}
    code, out, _ = rpcdemo(running.home, "net", "heal")
    assert code == 0 and out.count("healed, ok") == 3
    code, out, _ = rpcdemo(running.home, "net", "status")
    assert code == 0 and "partitioned" not in out and "service-c-1" in out


def test_a_bad_target_is_one_line_and_exit_2(running: Running, switchboard: Switchboard) -> None:
    code, _, err = rpcdemo(running.home, "net", "reset", "service-z")
    assert code == 2 and err.strip().count("\n") == 0 and "unknown target 'service-z'" in err
    code, _, err = rpcdemo(running.home, "net", "delay", "service-b", "lots")
    assert code == 2 and "bad delay 'lots'" in err


def test_a_topology_without_links_is_exit_2(running: Running) -> None:
    code, _, err = rpcdemo(running.home, "net", "status")
    assert code == 2 and "runs without links" in err


def test_nothing_running_is_exit_3(home: Path) -> None:
    code, _, err = rpcdemo(home, "net", "partition", "service-b")
    assert code == 3 and "nothing is running" in err
