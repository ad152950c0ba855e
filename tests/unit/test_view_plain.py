"""view/plain.py writes the bytes Rich's console writes, or leaves the printing to Rich."""

from __future__ import annotations

import io
import os
import pty
import sys
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from resonate_rpc_cli.observe.doctor import diagnose
from resonate_rpc_cli.observe.flowrun import FlowOutcomeJson
from resonate_rpc_cli.observe.snapshot import PromiseRow
from resonate_rpc_cli.view import plain
from resonate_rpc_cli.view.lines import Line, Node
from resonate_rpc_cli.view.richlines import to_group, to_tree
from resonate_rpc_cli.view.textviews import doctor_lines, promise_tree, run_line
from tests.unit.test_observe_leases import facts

STYLES = ["", "bold", "dim", "green", "red", "cyan", "yellow", "magenta", "white",
          "bold red", "bold green", "dim red"]
System = Literal["standard", "256", "truecolor"]
SYSTEMS: list[System] = ["standard", "256", "truecolor"]


def rich_bytes(renderable: object, terminal: bool, width: int, system: System = "standard",
               ) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=terminal, width=width, highlight=False,
            color_system=system if terminal else None, _environ={}).print(renderable)
    return out.getvalue()


def plain_lines(lines: list[Line], terminal: bool, width: int) -> str:
    return "".join(plain.render_line(line, terminal, width) for line in lines)


def plain_tree(root: Node, terminal: bool, width: int) -> str:
    return "".join(plain.render_line(line, terminal, width, prefix, more)
                   for prefix, more, line in plain._tree_lines(root, []))


def rows() -> list[PromiseRow]:
    return [PromiseRow("f", "pending", "foo", [1, 2], None, None, "f", 1_000, None, "svc-a-1"),
            PromiseRow("f:1", "resolved", "bar", [3], 5, "f", "f", 1_000, 2_000),
            PromiseRow("f:1:0", "rejected", None, None, None, "f:1", "f", 1_000, 2_000),
            PromiseRow("f:2", "pending", "baz", "x", None, "f", "f", 1_000, None),
            PromiseRow("f:2:0", "resolved", "qux", [], "v", "f:2", "f", 1_000, 2_000)]


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("system", SYSTEMS)
def test_the_views_print_as_rich_does(terminal: bool, system: System) -> None:
    outcome: FlowOutcomeJson = {"flow": "await-chain", "promise_id": "await-chain-1",
                                "state": "resolved", "result": 3, "elapsed_ms": 12}
    doctor = doctor_lines(diagnose(facts()), ["a notice"], 5.0)
    tree = promise_tree(rows(), title="f", flags={"f:2": "paused holder"})
    for width in (20, 50, 80, 120, 200):
        assert plain_lines([run_line(outcome)], terminal, width) == \
            rich_bytes(to_group([run_line(outcome)]), terminal, width, system)
        assert plain_lines(doctor, terminal, width) == \
            rich_bytes(to_group(doctor), terminal, width, system)
        assert plain_tree(tree, terminal, width) == rich_bytes(to_tree(tree), terminal, width,
                                                               system)
    empty = promise_tree([], title="x")
    assert plain_tree(empty, terminal, 80) == rich_bytes(to_tree(empty), terminal, 80, system)


texts = st.one_of(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
                  st.text(st.sampled_from("ab  "), max_size=40))  # words, runs of spaces
parts = st.lists(st.tuples(texts, st.sampled_from(STYLES)), max_size=6)


def _line(base: str, ps: list[tuple[str, str]]) -> Line:
    line = Line(style=base)
    for text, style in ps:
        line.append(text, style)
    return line


lines = st.builds(_line, st.sampled_from(STYLES), parts)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> Node:
    node = Node(draw(lines))
    if depth < 3:
        node.children = draw(st.lists(trees(depth + 1), max_size=3))
    return node


@settings(max_examples=150, deadline=None)
@given(st.lists(lines, max_size=5), st.integers(1, 60), st.booleans(),
       st.sampled_from(SYSTEMS))
def test_any_lines_are_rich_bytes_or_left_to_rich(ls: list[Line], width: int, terminal: bool,
                                                  system: System) -> None:
    assert plain_lines(ls, terminal, width) == rich_bytes(to_group(ls), terminal, width, system)


@settings(max_examples=100, deadline=None)
@given(trees(), st.integers(1, 60), st.booleans(), st.sampled_from(SYSTEMS))
def test_any_tree_is_rich_bytes_or_left_to_rich(root: Node, width: int, terminal: bool,
                                                system: System) -> None:
    try:
        mine = plain_tree(root, terminal, width)
    except plain.Unsure:  # guides as wide as the console
        assert width <= 4 * 4
        return
    assert mine == rich_bytes(to_tree(root), terminal, width, system)


def test_what_rich_would_print_differently_is_left_to_it() -> None:
    with pytest.raises(plain.Unsure):  # cell widths, emoji, control characters
        plain.render_line(Line("naïve"), False, 80)
    with pytest.raises(plain.Unsure):
        plain.render_line(Line("x", style="blink"), True, 80)
    for env in ({"FORCE_COLOR": "1"}, {"NO_COLOR": "1"}, {"COLUMNS": "50"},
                {"TTY_COMPATIBLE": "1"}, {"TERM": "dumb"}):
        with pytest.raises(plain.Unsure):
            plain.console_mode(io.StringIO(), env)


def test_terminal_and_width_are_what_rich_sees() -> None:
    """On a pseudo-terminal and on a pipe, the same (terminal, width) as Rich's Console."""
    main, side = pty.openpty()
    try:
        with open(side, "w", encoding="utf-8", closefd=False) as tty:
            rich = Console(file=tty, _environ={})
            assert plain.console_mode(tty, {})[0] is True is rich.is_terminal
        pipe = io.StringIO()
        rich = Console(file=pipe, _environ={})
        assert plain.console_mode(pipe, {}) == (False, plain.terminal_width())
        assert plain.terminal_width() == rich.size.width
        assert rich.is_terminal is False
    finally:
        os.close(main)
        os.close(side)
    assert sys.__stdout__ is not None
