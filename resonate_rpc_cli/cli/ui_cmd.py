"""``rpcdemo ui``: the browser console of a running topology (and ``up --ui``'s helpers)."""

from __future__ import annotations

from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import app, exit_on_error, home_of
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError

HostOpt = Annotated[str, typer.Option(
    "--host", help="Address the console listens on. Beyond 127.0.0.1 only when asked: "
                   "anyone who reaches it with the URL's token can act on the topology.")]
PortOpt = Annotated[int, typer.Option(
    "--port", help="Port of the console (0: a free one).")]


def check_address(host: str, port: int) -> None:
    """UsageError for a port out of range; a warning line for a host beyond loopback."""
    from resonate_rpc_cli.backends.base import is_loopback
    from resonate_rpc_cli.view.console import err

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {port}")
    if not host.strip():
        raise UsageError("--host must not be empty")
    if not is_loopback(host):
        err.print(f"[yellow]exposed:[/] the console listens on {host}: whoever reaches it "
                  "with the token in its URL can kill nodes and settle promises")


def announce(url: str, stops: str = "the console (the topology keeps running)") -> None:
    """The URL line (stdout, so a script can read it) and what Ctrl-C stops."""
    from resonate_rpc_cli.view.console import err

    typer.echo(f"console: {url}", err=False)
    err.print(f"open it in a browser; Ctrl-C stops {stops}")


@app.command()
@exit_on_error
def ui(ctx: typer.Context, *, host: HostOpt = "127.0.0.1", port: PortOpt = 0) -> None:
    """Serve the browser console of the running topology (Ctrl-C stops it).

    Prints the page's URL with this HOME's token (kept in HOME/console/token,
    mode 0600): the page shows every node, each flow's call graph of durable
    promises, the events, the links and a chaos run's timeline, live, with
    buttons to kill, respawn, pause, partition, scale, run a flow and settle a
    pending promise. Every request needs the token (403 without it). Exit 3
    when nothing runs under HOME, or when the topology stops while served.
    """
    from resonate_rpc_cli.supervisor.client import SupervisorClient
    from resonate_rpc_cli.web.serve import serve_console

    home = home_of(ctx)
    check_address(host, port)
    SupervisorClient(home).status()  # NotRunningError (exit 3) before binding anything
    if serve_console(home, host, port, announce) == "gone":
        raise NotRunningError("the topology stopped; the console stopped with it")
