"""`gc`: drop call trees that settled long ago from a running embedded server."""

from __future__ import annotations

from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import JsonOpt, app, emit_json, exit_on_error, home_of
from resonate_rpc_cli.contracts.durations import parse_duration
from resonate_rpc_cli.contracts.errors import UsageError


@app.command()
@exit_on_error
def gc(
    ctx: typer.Context,
    *,
    older_than: Annotated[str, typer.Option("--older-than", metavar="DURATION",
        help="Drop call trees whose every promise settled longer ago than this "
        "(e.g. 90s, 30m, 1h, 2d).")],
    dry_run: Annotated[bool, typer.Option("--dry-run",
        help="Only say what would be dropped.")] = False,
    server_url: Annotated[str | None, typer.Option("--server-url", envvar="RESONATE_URL",
        help="The server to collect on (default: the running topology's).",
        show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Drop settled call trees from the embedded server, in memory and on disk.

    Never a pending promise, a tree with anything pending, or a promise a live
    task still refers to. A re-sent request with the id of a dropped flow
    starts it afresh. Exit 3 when no server is running.
    """
    try:
        seconds = parse_duration(older_than)
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from None
    from resonate_rpc_cli.clients.gc import collect

    if server_url is None:
        from resonate_rpc_cli.supervisor.client import SupervisorClient

        server_url = SupervisorClient(home_of(ctx)).status().config.server_url
    result = collect(server_url, seconds, dry_run)
    if as_json:
        emit_json(result)
        return
    from resonate_rpc_cli.view.console import out

    verb = "would drop" if dry_run else "dropped"
    out.print(f"{verb} {result['promises']} promises in {result['trees']} call trees "
              f"({result['tasks']} tasks), {_size(result['bytes'])} of records, "
              f"settled more than {older_than} ago")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    size = n / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
