"""One human line per supervisor event (``rpcdemo node``'s output, the live view's feed)."""

from __future__ import annotations

from datetime import datetime

from resonate_rpc_cli.supervisor.events import AllReady, Event, NodeReport, StoppedAll


def line(ts: float, node: str, kind: str, *, pid: int | None = None,
         node_id: str | None = None, detail: str = "") -> str:
    """``HH:MM:SS <node> <kind> pid <pid> id <node id[:8]>: <detail>`` (parts only when known)."""
    pid_part = f" pid {pid}" if pid else ""
    id_part = f" id {node_id[:8]}" if node_id else ""
    detail_part = f": {detail}" if detail else ""
    return f"{_stamp(ts)} {node} {kind}{pid_part}{id_part}{detail_part}"


def describe(event: NodeReport) -> str:
    """One supervisor event as :func:`line`; ``rpcdemo node``'s ``all_ready`` and
    ``stopped_all`` have their own lines."""
    if isinstance(event, AllReady):
        return (f"{_stamp(event.ts)} ready: {event.count} node(s) of {event.group} on "
                f"{event.server} (home {event.home}); Ctrl-C stops them")
    if isinstance(event, StoppedAll):
        return f"{_stamp(event.ts)} all nodes stopped"
    assert isinstance(event, Event)
    return line(event.ts, event.node, str(event.kind), pid=event.pid, node_id=event.node_id,
                detail=event.detail)


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S")
