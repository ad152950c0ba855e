"""`status`, `watch`, `tree` and `logs`: look at a topology."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import (
    JsonOpt,
    app,
    emit_json,
    exit_on_error,
    home_of,
)
from resonate_rpc_cli.clients.protocol import ServerUnreachable
from resonate_rpc_cli.contracts.errors import NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home, not_running_message
from resonate_rpc_cli.observe.leases import Holders, fetch_leases, stuck_in_tree
from resonate_rpc_cli.observe.picture import collect_status, picture
from resonate_rpc_cli.observe.snapshot import PromiseSource, tree_rows
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.view.console import err, out
from resonate_rpc_cli.view.live import run_live
from resonate_rpc_cli.view.render import promise_tree, status_view

# -- looking -----------------------------------------------------------------------------


@app.command()
@exit_on_error
def status(ctx: typer.Context, *, as_json: JsonOpt = False) -> None:
    """Server, nodes (state, pid, restarts, uptime, task held) and promise counts."""
    pic = picture(home_of(ctx))
    if as_json:
        emit_json(pic.to_dict())
        return
    out.print(status_view(pic))


@app.command()
@exit_on_error
def watch(
    ctx: typer.Context,
    *,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")]
        = None,
    interval: Annotated[float, typer.Option(
        help="With --json: seconds between snapshots.")] = 1.0,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one `status --json` snapshot per line instead of the view.")]
        = False,
) -> None:
    """The live view of a running (detached) topology; Ctrl-C leaves it running.

    With --json, a stream of status snapshots (JSON lines) for scripts.
    """
    home = home_of(ctx)
    if as_json:
        if interval <= 0:
            raise UsageError("--interval must be > 0 seconds")
        deadline = None if duration is None else time.monotonic() + duration
        while True:
            typer.echo(json.dumps(collect_status(home), default=str))
            if deadline is not None and time.monotonic() + interval > deadline:
                return
            time.sleep(interval)
    why = run_live(home, out, duration_s=duration)
    if why == "gone":
        raise NotRunningError("the supervisor went away")


@app.command()
@exit_on_error
def tree(
    ctx: typer.Context,
    *,
    promise_id: Annotated[str, typer.Argument(help="Root promise id, e.g. await-chain.")],
    as_json: JsonOpt = False,
) -> None:
    """One call graph (every promise tagged with this origin) and its states."""
    home = home_of(ctx)
    status = SupervisorClient(home).status()
    config = status.config
    source = PromiseSource(config.server_url)
    try:
        leases, _ = fetch_leases(source, views_need_it=True)
        rows = tree_rows(source, promise_id, Holders.of(leases, status.nodes).holder)
        stuck = stuck_in_tree(source, promise_id, status.nodes, config)
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    if not rows and source.notice is None:
        raise RpcdemoError(f"no promise {promise_id!r} on {config.server_url}")
    if as_json:
        emit_json({"root": promise_id, "promises": [r.to_dict() for r in rows],
                   "stuck": stuck, "notice": source.notice})
        return
    out.print(promise_tree(rows, title=promise_id, flags=stuck))
    if source.notice:
        err.print(source.notice, markup=False)


@app.command()
@exit_on_error
def logs(
    ctx: typer.Context,
    *,
    node: Annotated[str, typer.Argument(help="A node name, e.g. service-b-1, or supervisor.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")]
        = False,
    incarnation: Annotated[int | None, typer.Option(help="Which incarnation (default: the last).")]
        = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help='One JSON object per log line: {"node", "log", "line"}.')] = False,
) -> None:
    """Print a node's log (its latest incarnation unless --incarnation)."""
    home = home_of(ctx)
    path = _log_path(home, node, incarnation)

    def emit(text: str) -> None:
        if as_json:
            for line in text.splitlines():
                sys.stdout.write(json.dumps({"node": node, "log": str(path), "line": line}) + "\n")
        else:
            sys.stdout.write(text)
        sys.stdout.flush()

    with path.open("r", errors="replace") as fh:
        emit(fh.read())
        while follow:
            line = fh.readline()
            if line:
                emit(line)
            else:
                time.sleep(0.2)


def _log_path(home: Home, node: str, incarnation: int | None) -> Path:
    if node == "supervisor":
        path = home.supervisor_log
    elif incarnation is not None:
        path = home.node_log(node, incarnation)
    else:
        found = sorted(home.logs_dir.glob(f"{node}.*.log"),
                       key=lambda p: int(p.stem.rsplit(".", 1)[1]) if
                       p.stem.rsplit(".", 1)[1].isdigit() else 0)
        if not found:
            if not SupervisorClient(home).answering():
                raise NotRunningError(not_running_message(home))
            known = sorted({p.name.split(".", 1)[0] for p in home.logs_dir.glob("*.log")})
            raise UsageError(f"no log for {node!r}; nodes with logs: {', '.join(known)}")
        path = found[-1]
    if not path.is_file():
        raise UsageError(f"no log at {path}")
    return path


