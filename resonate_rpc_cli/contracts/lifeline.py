"""Children exit when their supervisor dies: the no-orphans guarantee, child side.

Every process rpcdemo starts gets ``RPCDEMO_PARENT_PID`` in its environment and
calls :func:`start_lifeline` early. A daemon thread polls ``os.getppid()``; when
the parent is gone (the child was re-parented) it sends the child ``SIGTERM``
to its own process so normal shutdown runs, and ``os._exit`` after a grace
period if that did not end it. This works after ``kill -9`` of the parent,
where no signal handler of the parent can run, and on macOS where
``PR_SET_PDEATHSIG`` does not exist.
"""

from __future__ import annotations

import os
import time

ENV_PARENT_PID = "RPCDEMO_PARENT_PID"


def start_lifeline(
    parent_pid: int | None = None, interval_s: float = 0.2, grace_s: float = 2.0
) -> bool:
    """Watch the parent in a daemon thread; return False if there is nothing to watch.

    ``parent_pid`` defaults to ``$RPCDEMO_PARENT_PID``; without either (a node
    started by hand) no lifeline is installed.
    """
    if parent_pid is None:
        raw = os.environ.get(ENV_PARENT_PID, "")
        if not raw.isdigit():
            return False
        parent_pid = int(raw)
    if os.getppid() != parent_pid:
        os._exit(3)  # parent died before we even started
    # here, not at the top: the CLI reads ENV_PARENT_PID and starts no lifeline (issue 21)
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(3)

    threading.Thread(target=watch, name="rpcdemo-lifeline", daemon=True).start()
    return True
