"""Fixtures shared by every tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.procs import ProcGroup


@pytest.fixture
def procs() -> Iterator[ProcGroup]:
    """Processes started by the test; all stopped (as groups) at teardown."""
    group = ProcGroup()
    try:
        yield group
    finally:
        group.close()
