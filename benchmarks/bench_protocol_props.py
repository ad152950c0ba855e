"""Long run of the protocol state machine: ``python benchmarks/bench_protocol_props.py``.

Option ``--steps N``.

Drives tests/protocol/machine.py (random valid and invalid requests from
three fake workers against the engine, every invariant checked after every
step) until N steps (default 100,000) have run, with a fresh random seed per
batch. Prints the steps, the time, steps per second, and the first
counterexample hypothesis found (its shrunk step list), if any; exits 1 then.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.protocol.machine import STEPS, ProtocolMachine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps to run (default 100000)")
    args = parser.parse_args()
    batch = settings(max_examples=50, stateful_step_count=100, database=None, deadline=None,
                     suppress_health_check=list(HealthCheck), print_blob=True)
    started = time.perf_counter()
    batches = 0
    while STEPS[0] < args.steps:
        batches += 1
        try:
            run_state_machine_as_test(ProtocolMachine, settings=batch)
        except Exception as exc:  # a counterexample: hypothesis has shrunk and printed it
            print(f"COUNTEREXAMPLE after {STEPS[0]} steps: {type(exc).__name__}: {exc}")
            return 1
    elapsed = time.perf_counter() - started
    print(f"steps: {STEPS[0]}  batches: {batches}  time: {elapsed:.1f} s  "
          f"steps/s: {STEPS[0] / elapsed:,.0f}  counterexamples: none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
