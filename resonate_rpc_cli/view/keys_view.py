"""The live view's keys on screen: the footer (the selected row's keys, as process-compose
and k9s show them), the prompt of an action that asks for a value, what is under way and
how the last action ended, and the help (``?``). Renders
:class:`~resonate_rpc_cli.observe.keys.Controls`; reads nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from resonate_rpc_cli.observe.actions import ACTIONS, Kind
from resonate_rpc_cli.observe.keys import NAVIGATION, Controls, Row

KIND_TITLES = {Kind.NODE: "on a node", Kind.GROUP: "on a node's group",
               Kind.FLOW: "on a flow (its root)", Kind.PROMISE: "on a pending promise"}


def _key(text: Text, key: str, label: str) -> None:
    text.append(f" {key} ", style="bold reverse")
    text.append(f" {label}  ")


def footer(controls: Controls, rows: Sequence[Row]) -> list[Text]:
    """The lines under the view: the outcome line, then the prompt or the keys."""
    lines: list[Text] = []
    status = status_line(controls)
    if status is not None:
        lines.append(status)
    prompt = controls.prompt
    if prompt is not None:
        lines.append(Text.assemble(
            (f"{prompt.action.label.rstrip('…')} {prompt.target.id}", "bold"),
            f" — {prompt.action.ask}: ", (prompt.text, "bold"), ("▏", "blink"),
            ("   enter: do it  esc: cancel", "dim")))
        return lines
    row = controls.current(rows)
    keys = Text()
    if row is not None:
        keys.append(f"{row.target.id} ", style="bold")
        for action, _target in controls.offered(rows):
            _key(keys, action.key, action.label)
    for key, label in NAVIGATION:
        _key(keys, key, label)
    lines.append(keys)
    return lines


def status_line(controls: Controls) -> Text | None:
    """What is under way, else the note on the last key, else how the last action ended."""
    if controls.running:
        return Text("… " + ", ".join(r.line() for r in controls.running), style="cyan")
    if controls.note:
        return Text(controls.note, style="yellow")
    last = controls.last
    if last is None:
        return None
    if last.ok:
        return Text(f"✓ {last.message}", style="green")
    return Text(f"✗ {last.action} {last.target}: {last.message}", style="red")


def help_view() -> RenderableType:
    """Every key: the actions by the kind of row they apply to, then moving around."""
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column("key", style="bold", no_wrap=True, min_width=6)
    table.add_column("action", no_wrap=True)
    table.add_column("what it does")
    for kind in Kind:
        table.add_row("", Text(KIND_TITLES[kind], style="bold underline"), "")
        for action in (a for a in ACTIONS if a.kind is kind):
            table.add_row(f" {action.key}", action.label, action.help)
    table.add_row("", Text("anywhere", style="bold underline"), "")
    for key, label in (*NAVIGATION, ("g G", "first row, last row"),
                       ("PgUp PgDn", "ten rows up, down"), ("esc", "close help, drop a prompt")):
        table.add_row(f" {key}", label, "")
    note = Text("A key acts on the selected row (>) at once, through the same calls as the "
                "CLI's commands (kill, respawn, scale, net, run, promise, flow cancel); its "
                "outcome shows above the keys. Ctrl-C leaves the view as q does.", style="dim")
    return Group(table, note)
