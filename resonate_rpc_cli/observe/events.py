"""One human line per supervisor event (``rpcdemo node``'s output, the live view's feed)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any


def describe(event: dict[str, Any]) -> str:
    """``HH:MM:SS <node> <kind> pid <pid> id <node id[:8]>: <detail>`` (parts only when known).

    Two kinds of ``rpcdemo node`` have their own line: ``all_ready`` and ``stopped_all``.
    """
    stamp = datetime.fromtimestamp(float(event.get("ts", time.time()))).strftime("%H:%M:%S")
    if event["kind"] == "all_ready":
        return (f"{stamp} ready: {event['count']} node(s) of {event['group']} on "
                f"{event['server']} (home {event['home']}); Ctrl-C stops them")
    if event["kind"] == "stopped_all":
        return f"{stamp} all nodes stopped"
    pid = f" pid {event['pid']}" if event.get("pid") else ""
    node_id = f" id {event['node_id'][:8]}" if event.get("node_id") else ""
    detail = f": {event['detail']}" if event.get("detail") else ""
    return f"{stamp} {event['node']} {event['kind']}{pid}{node_id}{detail}"
