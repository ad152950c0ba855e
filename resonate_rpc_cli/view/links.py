"""Links on screen: the ``net status`` table, fault results, and the broken-links line
that ``status`` and the live view show."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text

from resonate_rpc_cli.links.status import LinkStatus
from resonate_rpc_cli.view.style import seconds

LINK_STYLE = {"ok": "green", "partitioned": "bold red", "delayed": "yellow"}


def link_label(link: LinkStatus, now: float | None = None) -> str:
    """``ok``, ``partitioned (heals in 4.0s)``, ``delayed 200±50 ms``."""
    delay = f"{link.delay_ms:g}±{link.jitter_ms:g} ms" if link.jitter_ms else \
        f"{link.delay_ms:g} ms"
    if link.state == "partitioned":
        label = "partitioned"
        if link.until is not None:
            left = max(0.0, link.until - (time.time() if now is None else now))
            label += f" (heals in {seconds(left)})"
        return label + (f", then delayed {delay}" if link.delay_ms > 0 else "")
    if link.state == "delayed":
        return f"delayed {delay}"
    return "ok"


def links_table(links: list[LinkStatus], now: float | None = None) -> Table:
    """One row per link: its state, how new connections go (``handoff``: given to the
    server; ``proxy``: relayed), the relayed connections open, those handed over so far."""
    table = Table(box=None, pad_edge=False)
    numbers = ("relayed", "handed off", "port")
    for col in ("node", "link", "path", *numbers):
        table.add_column(col, justify="right" if col in numbers else "left")
    for link in links:
        table.add_row(link.node, Text(link_label(link, now), style=LINK_STYLE[link.state]),
                      link.path, str(link.connections), str(link.handed_off), str(link.port))
    return table


def broken_links_text(links: list[LinkStatus] | None, now: float | None = None) -> Text:
    """One line: every broken link with its fault, or how many links are healthy."""
    if links is None:
        return Text("links: off", style="dim")
    broken = [link for link in links if link.broken]
    if not broken:
        return Text(f"links: {len(links)} ok", style="dim")
    line = Text("links: ")
    for i, link in enumerate(broken):
        if i:
            line.append(" · ")
        line.append(f"{link.node} {link_label(link, now)}", style=LINK_STYLE[link.state])
    return line
