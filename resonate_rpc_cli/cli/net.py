"""`rpcdemo net`: break and heal the network of one node (or a group) through its link.

Parses, calls :class:`~resonate_rpc_cli.links.client.LinkClient`, renders. A
bad target or value is one line and exit 2; a topology started
with ``--no-links`` is exit 2 too; nothing running is exit 3.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Annotated

import typer

from resonate_rpc_cli.cli.coercion import PlainGroup
from resonate_rpc_cli.cli.common import JsonOpt, app, emit_json, exit_on_error, home_of
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home

if TYPE_CHECKING:  # the link and supervisor clients and Rich load inside the commands (issue 21)
    from resonate_rpc_cli.links.client import LinkClient
    from resonate_rpc_cli.links.status import LinkStatus

net = typer.Typer(name="net", cls=PlainGroup, no_args_is_help=True, help=(
    "Break one node's network through its link: partition, delay, reset, heal, status. "
    "TARGET is a node (service-b-1, gateway) or a group (service-b: all its nodes)."))
app.add_typer(net)

TargetArg = Annotated[str, typer.Argument(
    metavar="TARGET", help="A node like service-b-1 or a group like service-b.")]

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(ms|s)?\s*$", re.IGNORECASE)


def parse_duration(text: str, label: str, unit: str) -> float:
    """``text`` (``200ms``, ``0.2s``, or a bare number in ``unit``) in that unit.

    ``unit`` is ``ms`` or ``s``; raises :class:`UsageError` naming ``label``.
    """
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"bad {label} {text!r}: expected a duration like 200ms or 0.2s")
    value = float(match.group(1))
    given = (match.group(2) or unit).lower()
    if given != unit:
        value = value * 1000 if given == "s" else value / 1000
    if not math.isfinite(value):
        raise UsageError(f"bad {label} {text!r}: not a finite duration")
    return value


def _links(home: Home) -> LinkClient:
    from resonate_rpc_cli.links.client import LinkClient

    return LinkClient(home)


def _show(links: list[LinkStatus], as_json: bool, done: str = "") -> None:
    """The links a command touched: JSON, or ``node: [done, ]link state`` per line."""
    if as_json:
        emit_json([link.to_dict() for link in links])
        return
    from resonate_rpc_cli.view.console import out
    from resonate_rpc_cli.view.links import link_label

    for link in links:
        out.print(f"{link.node}: {done}{link_label(link)}")


@net.command()
@exit_on_error
def partition(
    ctx: typer.Context, target: TargetArg, *,
    for_s: Annotated[str | None, typer.Option("--for", metavar="S",
        help="Heal by itself after this long (seconds, or e.g. 1500ms).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cut TARGET off the server both ways: open connections hang, new ones hang too."""
    from resonate_rpc_cli.observe import linkfaults

    seconds = None if for_s is None else parse_duration(for_s, "--for", "s")
    _show(linkfaults.partition(home_of(ctx), target, seconds), as_json)


@net.command()
@exit_on_error
def delay(
    ctx: typer.Context, target: TargetArg,
    latency: Annotated[str, typer.Argument(metavar="DELAY",
        help="Added latency each way, e.g. 200ms or 0.2s (a bare number is ms).")],
    *,
    jitter: Annotated[str, typer.Option(help="Random spread around DELAY, e.g. 50ms.")] = "0ms",
    as_json: JsonOpt = False,
) -> None:
    """Delay every byte on TARGET's link by DELAY ± jitter, in each direction, in order."""
    delay_ms = parse_duration(latency, "delay", "ms")
    jitter_ms = parse_duration(jitter, "--jitter", "ms")
    from resonate_rpc_cli.observe import linkfaults

    _show(linkfaults.delay(home_of(ctx), target, delay_ms, jitter_ms), as_json)


@net.command()
@exit_on_error
def reset(ctx: typer.Context, target: TargetArg, *, as_json: JsonOpt = False) -> None:
    """Close every open connection on TARGET's link (RST); new connections work."""
    _show(_links(home_of(ctx)).reset(target), as_json, "connections reset, link ")


@net.command()
@exit_on_error
def heal(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(metavar="[TARGET]",
        help="A node or group; every link when left out.")] = None,
    *, as_json: JsonOpt = False,
) -> None:
    """Clear every fault on TARGET's link (every link without TARGET); held bytes flow on."""
    from resonate_rpc_cli.observe import linkfaults

    _show(linkfaults.heal(home_of(ctx), target), as_json, "healed, ")


@net.command("status")
@exit_on_error
def net_status(ctx: typer.Context, *, as_json: JsonOpt = False) -> None:
    """Every link: its fault, open connections and port."""
    links = _links(home_of(ctx)).status()
    if as_json:
        emit_json([link.to_dict() for link in links])
    else:
        from resonate_rpc_cli.view.console import out
        from resonate_rpc_cli.view.links import links_table

        out.print(links_table(links))
