"""`status`, `watch`, `tree` and `logs`: look at a topology."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from resonate_rpc_cli.cli import everyday
from resonate_rpc_cli.cli.common import JsonOpt, app, exit_on_error, home_of
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.home import Home, not_running_message

# Each command imports the rest inside its body: Rich only to print a view, the
# read side only where it is read (issue 21: a command loads only what it uses).

# -- looking -----------------------------------------------------------------------------


@app.command()
@exit_on_error
def status(ctx: typer.Context, *, as_json: JsonOpt = False) -> int:
    """Server, nodes (state, pid, restarts, uptime, task held) and promise counts."""
    return everyday.status(home_of(ctx), as_json=as_json)


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
    from resonate_rpc_cli.observe.picture import collect_status

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
    from resonate_rpc_cli.view.console import out
    from resonate_rpc_cli.view.live import run_live

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
) -> int:
    """One call graph (every promise tagged with this origin) and its states."""
    return everyday.tree(home_of(ctx), promise_id=promise_id, as_json=as_json)


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
            from resonate_rpc_cli.supervisor.client import SupervisorClient

            if not SupervisorClient(home).answering():
                raise NotRunningError(not_running_message(home))
            known = sorted({p.name.split(".", 1)[0] for p in home.logs_dir.glob("*.log")})
            raise UsageError(f"no log for {node!r}; nodes with logs: {', '.join(known)}")
        path = found[-1]
    if not path.is_file():
        raise UsageError(f"no log at {path}")
    return path


