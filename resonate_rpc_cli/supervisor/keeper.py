"""The lifeline for a node rpcdemo did not write: ``python -m resonate_rpc_cli.supervisor.keeper
-- COMMAND...``.

Our own nodes tie themselves to the supervisor's life (``contracts/lifeline.py``; the
TypeScript nodes poll ``process.ppid`` the same way). A declared group's command knows
nothing of rpcdemo, so the supervisor starts it under this keeper: the keeper leads the
node's process group (the supervisor starts it in a new session), runs the command as
its child in that same group, and watches ``RPCDEMO_PARENT_PID`` exactly as the
lifeline does. When the parent is gone (``kill -9`` of the supervisor included) it
TERMs the whole group, and KILLs it after a grace period, so no process of the
command (nor any of its children that stayed in the group) outlives the supervisor.

Everything the supervisor does to a node it does to the group (``killpg``): KILL,
TERM, STOP/CONT reach the command and the keeper alike. The keeper exits with the
command's exit code, or by the signal that ended it. It imports only the standard
library, so it costs a few milliseconds of start-up. A command that cannot be
started is exit 127 with one line on stderr (as a shell says it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from resonate_rpc_cli.contracts.lifeline import ENV_PARENT_PID

POLL_S = 0.1
GRACE_S = 2.0
NOT_STARTED = 127


def _parent_pid() -> int | None:
    raw = os.environ.get(ENV_PARENT_PID, "")
    return int(raw) if raw.isdigit() else None


def _end_group(child: subprocess.Popen[bytes]) -> int:
    """TERM the group (the command and what it started), KILL it after the grace (the
    keeper goes with it)."""
    leader = os.getpgrp() == os.getpid()
    if leader:
        os.killpg(0, signal.SIGTERM)  # the keeper's own TERM handler ignores it
    else:
        child.terminate()
    deadline = time.monotonic() + GRACE_S
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(POLL_S)
    if leader:
        os.killpg(0, signal.SIGKILL)
    child.kill()
    return 3


def keep(argv: list[str]) -> int:
    """Run ``argv`` as a child in this process group until it exits; the exit code to use
    (a negative number: the signal that ended it)."""
    parent = _parent_pid()
    if parent is not None and os.getppid() != parent:
        return 3  # the supervisor died before we started
    # TERM/INT/HUP: the command gets its own copy through the group; wait for it to end
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda _s, _f: None)
    try:
        # a node that watches its parent itself (our services, the TypeScript nodes)
        # watches the keeper, which watches the supervisor
        env = {**os.environ, ENV_PARENT_PID: str(os.getpid())}
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env)
    except OSError as exc:
        print(f"rpcdemo keeper: cannot start {argv[0]!r}: {exc.strerror or exc}",
              file=sys.stderr, flush=True)
        return NOT_STARTED
    while True:
        code = child.poll()
        if code is not None:
            return code
        if parent is not None and os.getppid() != parent:
            return _end_group(child)
        time.sleep(POLL_S)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m resonate_rpc_cli.supervisor.keeper -- COMMAND [ARG...]",
              file=sys.stderr)
        sys.exit(2)
    code = keep(args)
    if code < 0:  # ended by a signal: end the same way, so the supervisor sees it
        if -code != signal.SIGKILL:
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        time.sleep(1)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
