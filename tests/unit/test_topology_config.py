"""Parsing and validation of what `up` is asked for."""

from __future__ import annotations

import pytest

from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig, parse_delay, validate_config


def test_parse_delay() -> None:
    assert parse_delay("service-b=3") == ("service-b", 3.0)
    assert parse_delay(" service-i = 0.25") == ("service-i", 0.25)


@pytest.mark.parametrize(("text", "why"), [
    ("service-b", "expected GROUP=SECONDS"), ("=3", "expected GROUP=SECONDS"),
    ("service-b=", "expected GROUP=SECONDS"), ("service-z=1", "unknown group 'service-z'"),
    ("service-b=soon", "not a number"), ("service-b=-1", ">= 0"), ("service-b=nan", ">= 0"),
])
def test_bad_delays_say_why(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        parse_delay(text)


@pytest.mark.parametrize(("config", "why"), [
    (TopologyConfig(server_port=0), "--server-port"),
    (TopologyConfig(server_port=7000, gateway_port=7000), "both 7000"),
    (TopologyConfig(ttl_s=0), "--ttl"),
    (TopologyConfig(delay_mode="nap"), "--delay-mode"),
])
def test_validate_config(config: TopologyConfig, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        validate_config(config)


def test_config_round_trips_through_json() -> None:
    config = TopologyConfig(server_port=1234, delays={"service-b": 3.0}, memory=True)
    assert TopologyConfig.from_json(config.to_json()) == config
