"""A test client: start flows at the server and print their values as JSON.

``python -m tests.e2e.server_workers.client URL FUNC GROUP ID=ARG [ID=ARG ...]``
calls ``FUNC`` on ``GROUP`` once per ``ID=ARG`` (all started at once) and
prints ``{"values": {id: value}}`` once every root promise settles
(``{"started": [ids]}`` right after creating them when ``WAIT=0``). Re-checks
for lost unblocks every second, so it also completes across a server restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

from resonate.resonate import Resonate


async def main() -> None:
    url, func, group, *calls = sys.argv[1:]
    r = Resonate(url=url, group="client", pid=uuid.uuid4().hex, subscription_refresh_secs=1.0)
    handles = {}
    for call in calls:
        promise_id, _, arg = call.partition("=")
        handles[promise_id] = r.options(target=group).rpc(promise_id, func, int(arg))
    if os.environ.get("WAIT", "1") == "0":
        for h in handles.values():
            await h.id()
        print(json.dumps({"started": list(handles)}), flush=True)
    else:
        values = {pid: await h.result() for pid, h in handles.items()}
        print(json.dumps({"values": values}), flush=True)
    await r.stop()


if __name__ == "__main__":
    asyncio.run(main())
