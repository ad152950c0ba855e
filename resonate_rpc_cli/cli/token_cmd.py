"""`token`: mint a Resonate token with this HOME's key, for a node started elsewhere."""

from __future__ import annotations

from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import app, exit_on_error, home_of
from resonate_rpc_cli.clients.tokens import KeyPair, mint
from resonate_rpc_cli.contracts.durations import parse_duration
from resonate_rpc_cli.contracts.errors import UsageError


@app.command()
@exit_on_error
def token(
    ctx: typer.Context,
    *,
    prefix: Annotated[str | None, typer.Option(metavar="P",
        help="Only promise and task ids that start with P (default: every id; "
        "never /rpcdemo/*).", show_default=False)] = None,
    admin: Annotated[bool, typer.Option("--admin",
        help="role admin: everything, /rpcdemo/* too (rpcdemo's own reads).")] = False,
    ttl: Annotated[str, typer.Option(metavar="DURATION",
        help="How long the token is valid, e.g. 1h, 30d.")] = "30d",
    iss: Annotated[str | None, typer.Option(help="iss claim (a server with --auth-iss).",
        show_default=False)] = None,
    aud: Annotated[str | None, typer.Option(help="aud claim (a server with --auth-aud).",
        show_default=False)] = None,
) -> None:
    """Print a token signed with HOME's key (made by `up --auth`) on stdout.

    Give it to a node on another host as RESONATE_TOKEN. Exit 2 for bad flags
    or a HOME without a key pair.
    """
    if admin and prefix is not None:
        raise UsageError("--prefix and --admin cannot be used together")
    try:
        seconds = parse_duration(ttl)
    except ValueError as exc:
        raise UsageError(f"--ttl: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"--ttl must be longer than 0, got {ttl!r}")
    home = home_of(ctx)
    if not KeyPair.of(home).exists():
        raise UsageError(f"no key pair under {home.root}: start the topology with "
                         "`rpcdemo up --auth` first")
    typer.echo(mint(home, admin=admin, prefix=prefix or "", ttl_s=seconds,
                    iss=iss, aud=aud))
