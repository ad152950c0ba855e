"""`rpcdemo net`: break and heal the network of one node (or a group) through its link.

Parses, calls :class:`~resonate_rpc_cli.links.client.LinkClient`, renders. A
bad target or value is one line and exit 2; a topology started
without ``--links`` is exit 2 too; nothing running is exit 3.
"""

from __future__ import annotations

import contextlib
import math
import re
from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import JsonOpt, app, emit_json, exit_on_error, home_of
from resonate_rpc_cli.contracts.errors import RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.fault_leases import LINK_FAULTS, MAX_LEASE_S
from resonate_rpc_cli.view.console import out
from resonate_rpc_cli.view.links import link_label, links_table

net = typer.Typer(name="net", no_args_is_help=True, help=(
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


def _held(home: Home, kind: str, links: list[LinkStatus],
          for_s: float | None = None) -> list[LinkStatus]:
    """Register the fault on each link as a lease the operator holds (`status` lists it;
    the supervisor heals it after ``for_s``, or on `heal`); best effort: the fault stands."""
    client = SupervisorClient(home, timeout_s=5.0)
    for link in links:
        with contextlib.suppress(RpcdemoError):
            client.hold_fault(kind, link.node, for_s or MAX_LEASE_S, holder="net",
                              holder_pid=None)
    return links


def _show(links: list[LinkStatus], as_json: bool, done: str = "") -> None:
    """The links a command touched: JSON, or ``node: [done, ]link state`` per line."""
    if as_json:
        emit_json([link.to_dict() for link in links])
        return
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
    seconds = None if for_s is None else parse_duration(for_s, "--for", "s")
    home = home_of(ctx)
    _show(_held(home, "partition", LinkClient(home).partition(target, seconds), seconds),
          as_json)


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
    home = home_of(ctx)
    _show(_held(home, "delay", LinkClient(home).delay(target, delay_ms, jitter_ms)), as_json)


@net.command()
@exit_on_error
def reset(ctx: typer.Context, target: TargetArg, *, as_json: JsonOpt = False) -> None:
    """Close every open connection on TARGET's link (RST); new connections work."""
    _show(LinkClient(home_of(ctx)).reset(target), as_json, "connections reset, link ")


@net.command()
@exit_on_error
def heal(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(metavar="[TARGET]",
        help="A node or group; every link when left out.")] = None,
    *, as_json: JsonOpt = False,
) -> None:
    """Clear every fault on TARGET's link (every link without TARGET); held bytes flow on."""
    home = home_of(ctx)
    links = LinkClient(home).heal(target)
    with contextlib.suppress(RpcdemoError):  # the link faults are no longer in force
        SupervisorClient(home, timeout_s=5.0).heal(target, kinds=tuple(sorted(LINK_FAULTS)))
    _show(links, as_json, "healed, ")


@net.command("status")
@exit_on_error
def net_status(ctx: typer.Context, *, as_json: JsonOpt = False) -> None:
    """Every link: its fault, open connections and port."""
    links = LinkClient(home_of(ctx)).status()
    if as_json:
        emit_json([link.to_dict() for link in links])
    else:
        out.print(links_table(links))
