"""``python -m resonate_rpc_cli.supervisor.binary_guard PROGRAM [ARGS...]``: a lifeline for programs
that have none of their own (the real ``resonate`` binary).

The supervisor starts the guard in a new session; the guard starts PROGRAM
(no shell) in that same process group, so ``killpg`` of the guard's pid
reaches both. TERM/INT/HUP are passed on to PROGRAM; if it has not exited
``GRACE_S`` later it is killed. When the supervisor dies (even by ``kill -9``)
the lifeline TERMs the guard, which stops PROGRAM the same way — no orphan.
Exits with PROGRAM's exit code (128+N if a signal N ended it), 2 for a
missing PROGRAM argument, 3 when PROGRAM cannot be started.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType

from resonate_rpc_cli.contracts.lifeline import start_lifeline

GRACE_S = 1.5
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def run(argv: list[str]) -> int:
    """Run ``argv`` under the guard until it exits; its exit code."""
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        print(f"rpcdemo guard: cannot start {argv[0]}: {exc}", file=sys.stderr, flush=True)
        return 3
    deadline: list[float] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)
        if not deadline:
            deadline.append(time.monotonic() + GRACE_S)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    start_lifeline(grace_s=GRACE_S + 0.5)
    while child.poll() is None:
        if deadline and time.monotonic() >= deadline[0]:
            child.kill()
        time.sleep(0.05)
    code = child.returncode
    return 128 - code if code < 0 else code


def main() -> None:
    if len(sys.argv) < 2:
        print("usage: python -m resonate_rpc_cli.supervisor.binary_guard PROGRAM [ARGS...]",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
