"""The protocol state machine (machine.py) under a fixed seed: a few hundred random steps.

A longer run is ``benchmarks/bench_protocol_props.py``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.protocol.machine import STEPS, ProtocolMachine


def test_random_traffic_keeps_the_invariants() -> None:
    before = STEPS[0]
    run_state_machine_as_test(ProtocolMachine, settings=settings(
        max_examples=8, stateful_step_count=50, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck)))
    assert STEPS[0] - before >= 300, STEPS[0] - before
