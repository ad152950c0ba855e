"""The live view's controls: which row is selected, what a key does, the value being typed.

The rows are what the live view shows that an action can apply to, in screen order:
every node (offering its own actions and its group's), then each flow (its root) followed
by its pending promises. :class:`Controls` is part of the view model
(:class:`~resonate_rpc_cli.observe.live.LiveModel` holds it, the views render it): it
keeps the selection by the row's ref, so a refresh that adds or drops rows leaves it on
the same node or promise, and :meth:`Controls.press` turns one key into a
:class:`Request` for :func:`~resonate_rpc_cli.observe.actions.perform` (or moves the
selection, opens a prompt, shows help). Keys are names: one character, or ``up``,
``down``, ``home``, ``end``, ``pgup``, ``pgdn``, ``tab``, ``enter``, ``esc``,
``backspace``. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from resonate_rpc_cli.observe.actions import (
    Action,
    Kind,
    Outcome,
    Target,
    actions_for,
    flow_target,
)
from resonate_rpc_cli.observe.picture import NodeLine
from resonate_rpc_cli.observe.snapshot import PromiseRow

if TYPE_CHECKING:
    from resonate_rpc_cli.contracts.app_topology import AppTopology

#: keys that move the selection, by the step they take (None: to an end)
MOVES: dict[str, int] = {"up": -1, "k": -1, "down": 1, "j": 1, "pgup": -10, "pgdn": 10,
                         "home": -10_000, "g": -10_000, "end": 10_000, "G": 10_000}
#: what the footer and the help say about the keys that are not actions
NAVIGATION = (("↑↓ jk", "select"), ("tab", "next section"), ("?", "help"), ("q", "quit"))
#: longest value typed in a prompt
MAX_TYPED = 400


@dataclass(frozen=True)
class Row:
    """One selectable row: its target and the targets it offers actions for too (a node
    row offers its group's)."""

    target: Target
    also: tuple[Target, ...] = ()

    @property
    def targets(self) -> tuple[Target, ...]:
        return (self.target, *self.also)


@dataclass(frozen=True)
class Request:
    """An action asked for by a key, on a target, with the value typed for it."""

    action: Action
    target: Target
    value: str | None = None

    def line(self) -> str:
        return f"{self.action.label.rstrip('…')} {self.target.id}"


@dataclass
class Prompt:
    """A value being typed for ``action`` on ``target`` (enter sends it, esc drops it)."""

    action: Action
    target: Target
    text: str = ""


def rows_of(nodes: Sequence[NodeLine], trees: Mapping[str, Sequence[PromiseRow]],
            roots: Sequence[str], app: AppTopology | None = None) -> list[Row]:
    """The selectable rows in screen order: ``nodes``, then each of ``roots`` (its tree
    from ``trees``, possibly none yet) with its pending promises in tree order. With a
    declared application ``app`` a root's run is its declared flow's."""
    sizes: dict[str, int] = {}
    for line in nodes:
        if not line.row.retiring:
            sizes[line.row.group] = sizes.get(line.row.group, 0) + 1
    rows = [Row(Target(Kind.NODE, n.row.name, n.row.state, n.link),
                (Target(Kind.GROUP, n.row.group, count=sizes.get(n.row.group, 0)),))
            for n in nodes]
    for root in roots:
        tree = list(trees.get(root, ()))
        top = next((r for r in tree if r.id == root), None)
        rows.append(Row(flow_target(root, top.state if top else "", app)))
        rows += [Row(Target(Kind.PROMISE, r.id, r.state)) for r in tree_order(tree)
                 if r.state == "pending"]
    return rows


def tree_order(rows: Sequence[PromiseRow]) -> list[PromiseRow]:
    """``rows`` depth first, children under their parent in the given order (the order
    :func:`~resonate_rpc_cli.view.render.promise_tree` draws them in)."""
    ids = {r.id for r in rows}
    children: dict[str | None, list[PromiseRow]] = {}
    for row in rows:
        children.setdefault(row.parent if row.parent in ids else None, []).append(row)
    out: list[PromiseRow] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        row = stack.pop()
        out.append(row)
        stack += reversed(children.get(row.id, []))
    return out


@dataclass
class Controls:
    """The selection, the prompt, help, and the actions under way and their last outcome."""

    #: whether keys are read at all (a terminal); without, the footer is not drawn
    interactive: bool = False
    #: the selected row's ref (``node:service-b-1``) and its index, for when it goes
    selected: str | None = None
    index: int = 0
    prompt: Prompt | None = None
    help: bool = False
    quit: bool = False
    running: list[Request] = field(default_factory=list)
    last: Outcome | None = None
    #: a one-line note on the last key (a key that does nothing here)
    note: str | None = None

    def current(self, rows: Sequence[Row]) -> Row | None:
        """The selected row (the first one until a key moves it; the neighbour of one
        that went away)."""
        if not rows:
            return None
        for i, row in enumerate(rows):
            if row.target.ref == self.selected:
                self.index = i
                return row
        self.index = min(self.index, len(rows) - 1)
        self.selected = rows[self.index].target.ref
        return rows[self.index]

    def offered(self, rows: Sequence[Row]) -> list[tuple[Action, Target]]:
        """The actions the selected row offers now (for the footer)."""
        row = self.current(rows)
        return actions_for(*row.targets) if row is not None else []

    def press(self, key: str, rows: Sequence[Row]) -> Request | None:
        """Handle one key; the action it asks for, if any."""
        self.note = None
        if self.prompt is not None:
            return self._type(key)
        if key == "q":
            self.quit = True
        elif key == "?":
            self.help = not self.help
        elif key == "esc":
            self.help = False
        elif key in MOVES:
            self._move(MOVES[key], rows)
        elif key == "tab":
            self._next_section(rows)
        else:
            return self._act(key, rows)
        return None

    def _move(self, step: int, rows: Sequence[Row]) -> None:
        if self.current(rows) is None:
            return
        self.index = max(0, min(len(rows) - 1, self.index + step))
        self.selected = rows[self.index].target.ref

    def _next_section(self, rows: Sequence[Row]) -> None:
        row = self.current(rows)
        if row is None:
            return
        nodes = row.target.kind is Kind.NODE
        after = [i for i, r in enumerate(rows) if (r.target.kind is Kind.NODE) != nodes]
        if after:
            self.index = after[0]
            self.selected = rows[self.index].target.ref

    def _act(self, key: str, rows: Sequence[Row]) -> Request | None:
        row = self.current(rows)
        if row is None:
            return None
        for action, target in actions_for(*row.targets):
            if action.key == key:
                if action.ask is not None:
                    self.prompt = Prompt(action, target)
                    return None
                return Request(action, target)
        if len(key) == 1 and key.isprintable():
            self.note = f"{key}: nothing to do on {row.target.id} now (? lists the keys)"
        return None

    def _type(self, key: str) -> Request | None:
        prompt = self.prompt
        assert prompt is not None
        if key == "esc":
            self.prompt = None
        elif key == "enter":
            self.prompt = None
            return Request(prompt.action, prompt.target, prompt.text)
        elif key == "backspace":
            prompt.text = prompt.text[:-1]
        elif len(key) == 1 and key.isprintable() and len(prompt.text) < MAX_TYPED:
            prompt.text += key
        return None
