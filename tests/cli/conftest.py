"""Fixtures for the CliRunner tier: a short HOME and a fake-process supervisor behind it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.supervisor import updown
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from tests.cli._fake_supervisor import Running, fake_supervisor
from tests.procs import short_home


@pytest.fixture
def home() -> Iterator[Path]:
    """A fresh HOME whose path is short enough for a Unix socket."""
    with short_home() as path:
        yield path


@pytest.fixture
def running(home: Path) -> Iterator[Running]:
    """A supervisor with fake processes serving ``home``'s control socket."""
    with fake_supervisor(home) as sup:
        yield sup


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[TopologyConfig]:
    """The config `up` would start, captured instead of started (parsing only)."""
    seen: list[TopologyConfig] = []

    def fake_up(home: Any, config: TopologyConfig, **kwargs: Any) -> Any:
        seen.append(config)
        raise NotRunningError("captured")

    monkeypatch.setattr(updown, "up", fake_up)
    return seen
