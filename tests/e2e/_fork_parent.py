"""A stand-in supervisor for the fork server's e2e tests: ``python -m tests.e2e._fork_parent DIR``.

Starts a fork server (no preload), has it fork one ``sleep`` child (see
``_fork_child.py``), writes ``{"forkserver", "child"}`` pids to ``DIR/parent.json``
and sleeps until killed. Killing it with SIGKILL must take the fork server
and the child with it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from resonate_rpc_cli.supervisor.fork.client import ForkClient


def main() -> None:
    out = Path(sys.argv[1])
    env = {k: v for k, v in os.environ.items()}
    client = ForkClient(out / "fork.sock", out / "forkserver.log", env, preload="")
    child = client.spawn("tests.e2e._fork_child",
                         {**env, "FORK_CHILD": "sleep",
                          "FORK_CHILD_FILE": str(out / "child.json")},
                         out / "child.log")
    (out / "parent.json").write_text(json.dumps({"forkserver": client.proc.pid,
                                                 "child": child.pid}))
    while True:
        time.sleep(0.1)


if __name__ == "__main__":
    main()
