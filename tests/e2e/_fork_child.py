"""What a fork-server child does in the fork server's e2e tests, chosen by ``FORK_CHILD``.

* ``exit:N`` — exit with status N.
* ``raise`` — raise (the fork server reports 1, the traceback goes to the log).
* ``sleep`` — write ``{"pid", "sid", "parent", "env", "sigpipe_ignored"}`` to
  ``FORK_CHILD_FILE``, sleep.
* ``lifeline`` — like ``sleep``, but exit when the fork server dies (like a node).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from resonate_rpc_cli.contracts.lifeline import start_lifeline


def main() -> None:
    mode = os.environ.get("FORK_CHILD", "")
    if mode.startswith("exit:"):
        sys.exit(int(mode.removeprefix("exit:")))
    if mode == "raise":
        raise RuntimeError("child failed on purpose")
    if mode == "lifeline":
        start_lifeline(interval_s=0.05, grace_s=1.0)
    info = {"pid": os.getpid(), "sid": os.getsid(0), "parent": os.getppid(),
            "env": dict(os.environ), "argv": sys.argv,
            "sigpipe_ignored": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN}
    path = os.environ["FORK_CHILD_FILE"]
    with open(path + ".tmp", "w") as fh:
        json.dump(info, fh)
    os.replace(path + ".tmp", path)
    print(f"child {os.getpid()} up", flush=True)
    while True:
        time.sleep(0.1)


if __name__ == "__main__":
    main()
