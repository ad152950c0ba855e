"""The live view's keys through its model, with scripted keys and a fake supervisor: the
selection, the footer, prompts, help, actions started and their outcomes drawn, and the
terminal's settings restored on every way out (a pseudo-terminal, no process)."""

from __future__ import annotations

import io
import os
import termios
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.actions import Done, Kind, Outcome, Refused
from resonate_rpc_cli.observe.keys import rows_of, tree_order
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.observe.picture import NodeLine
from resonate_rpc_cli.observe.snapshot import PromiseRow
from resonate_rpc_cli.supervisor.client import TopologyStatus
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from resonate_rpc_cli.view.keyboard import decode, keys_from
from resonate_rpc_cli.view.live import Dashboard, run_live
from tests.procs import free_port

NODES = [("gateway", "gateway", "ready"), ("service-b-1", "service-b", "ready"),
         ("service-b-2", "service-b", "paused"), ("service-c-1", "service-c", "killed")]


def _row(pid: str, state: str, parent: str | None = None, func: str = "f") -> PromiseRow:
    return PromiseRow(pid, state, func, [1], None, parent, "ch", 1, None)


TREE = [_row("ch", "pending", func="foo"), _row("ch:1", "pending", "ch", "bar"),
        _row("ch:1.1", "resolved", "ch:1", "baz"), _row("ch:1.2", "pending", "ch:1", "(run)"),
        _row("ch:2", "pending", "ch", "qux")]


class Supervisor:
    """A fake supervisor: its nodes can change between polls; counts the polls."""

    def __init__(self) -> None:
        self.polls = 0
        self.nodes = list(NODES)
        self.config = TopologyConfig(server_port=free_port(), gateway_port=free_port())

    def __call__(self, home: Home, since: int) -> TopologyStatus:
        self.polls += 1
        return TopologyStatus.from_dict({
            "supervisor_pid": 1, "config": self.config.to_json(), "events": [],
            "all_ready": True, "shutting_down": False,
            "nodes": [{"name": n, "group": g, "pid": 3_999_000 + i if s != "killed" else None,
                       "state": s} for i, (n, g, s) in enumerate(self.nodes)]})


class Performer:
    """Records what the model asked for; answers Done (or what ``answer`` says)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.answer: Callable[[str, str], Outcome] = lambda name, target: Done(
            name, target, f"{name} {target} done")

    def __call__(self, home: Home, name: str, target: str, value: str | None) -> Outcome:
        self.calls.append((name, target, value))
        return self.answer(name, target)


@pytest.fixture
def model(tmp_path: Path) -> Iterator[tuple[LiveModel, Supervisor, Performer]]:
    sup, perform = Supervisor(), Performer()
    later: list[Callable[[], None]] = []
    m = LiveModel(Home(tmp_path), status=sup, perform=perform, launch=later.append)
    m.refresh()
    m.source = None  # no server here: the trees are set by the test
    m.trees = {"ch": TREE}
    m.recent.append("ch")
    m.controls.interactive = True
    m.launch = lambda work: work()  # actions run at once, in order
    yield m, sup, perform


def _screen(m: LiveModel, width: int = 200) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(Dashboard(m).render(60))
    return console.export_text()


def _press(m: LiveModel, *keys: str) -> None:
    for key in keys:
        m.press(key)


def test_the_rows_in_screen_order() -> None:
    nodes = [NodeLine(NodeRow(n, g, 1, s), link="ok") for n, g, s in NODES]
    rows = rows_of(nodes, {"ch": TREE}, ["await-chain", "ch"])
    assert [r.target.ref for r in rows] == [
        "node:gateway", "node:service-b-1", "node:service-b-2", "node:service-c-1",
        "flow:await-chain", "flow:ch", "promise:ch", "promise:ch:1", "promise:ch:1.2",
        "promise:ch:2"]
    assert rows[1].also[0].kind is Kind.GROUP and rows[1].also[0].count == 2
    assert rows[4].target.state == "" and rows[5].target.state == "pending"
    assert [r.id for r in tree_order(list(reversed(TREE)))] == [
        "ch", "ch:2", "ch:1", "ch:1.2", "ch:1.1"]


def test_moving_the_selection_and_the_footer_follows(model: Any) -> None:
    m, _sup, _perform = model
    screen = _screen(m)
    assert "> gateway" in screen and "  service-b-1" in screen
    assert " x  kill " in screen and " ?  help " in screen
    _press(m, "j", "down")
    screen = _screen(m)
    assert "> service-b-2" in screen and "  gateway" in screen
    assert " p  resume " in screen and " p  pause " not in screen and " r  respawn" not in screen
    assert " +  scale +1 " in screen  # the node's group's keys too
    _press(m, "up", "k", "k", "k")  # stops at the top
    assert m.controls.selected == "node:gateway"
    _press(m, "G")
    assert m.controls.selected == "promise:ch:2"
    _press(m, "tab")
    assert m.controls.selected == "node:gateway"
    _press(m, "tab")
    assert m.controls.selected == "flow:await-chain"
    screen = _screen(m)
    assert "> await-chain" in screen and "not run yet" in screen and " f  run " in screen


def test_a_key_performs_the_action_and_its_outcome_shows_at_the_next_refresh(
        model: Any) -> None:
    m, sup, perform = model
    later: list[Callable[[], None]] = []
    m.launch = later.append  # the action is under way until its thread ends
    _press(m, "j", "X")
    assert m.controls.running and "… kill+respawn service-b-1" in _screen(m)
    later.pop()()
    m.launch = lambda work: work()
    polls = sup.polls
    m.refresh()  # polls everything at once after an action, whatever the rate limits say
    assert sup.polls == polls + 1
    assert perform.calls == [("kill-respawn", "service-b-1", None)]
    assert not m.controls.running and "✓ kill-respawn service-b-1 done" in _screen(m)
    perform.answer = lambda name, target: Refused(name, target, "no node can take KILL", 2)
    _press(m, "j", "j", "x")  # service-c-1 is killed: x does nothing there, r respawns
    assert perform.calls[-1] == ("kill-respawn", "service-b-1", None)
    assert "x: nothing to do on service-c-1" in _screen(m)
    _press(m, "r")
    m.refresh()
    assert perform.calls[-1] == ("respawn", "service-c-1", None)
    assert "✗ respawn service-c-1: no node can take KILL" in _screen(m)


def test_a_prompt_takes_a_value_and_esc_drops_it(model: Any) -> None:
    m, _sup, perform = model
    _press(m, "G", "k", "v")  # ch:1.2, a pending step
    assert m.controls.prompt is not None
    _press(m, *'{"ok": tru', "backspace", "backspace", "backspace", *"true}")
    assert 'resolve ch:1.2 — value as JSON (empty: none): {"ok": true}' in _screen(m)
    _press(m, "q")  # typed, not quit
    assert not m.controls.quit
    _press(m, "backspace", "enter")
    assert perform.calls == [("resolve", "ch:1.2", '{"ok": true}')]
    _press(m, "e", *"42", "esc")
    assert m.controls.prompt is None and len(perform.calls) == 1
    _press(m, "tab", "j", "s", *"3", "enter")  # on a node: scale its group
    assert perform.calls[-1] == ("scale", "service-b", "3")


def test_help_and_quit(model: Any) -> None:
    m, _sup, _perform = model
    _press(m, "?")
    screen = _screen(m)
    assert "on a pending promise" in screen and "kill+respawn" in screen and "processes" \
        not in screen
    _press(m, "esc")
    assert "processes" in _screen(m)
    _press(m, "q")
    assert m.controls.quit


def test_the_selection_stays_on_its_row_when_rows_come_and_go(model: Any) -> None:
    m, sup, _perform = model
    _press(m, "j", "j")
    assert m.controls.selected == "node:service-b-2"
    sup.nodes.insert(0, ("server", "server", "ready"))
    m.node_every.last = float("-inf")
    m.refresh()
    assert "> service-b-2" in _screen(m)
    sup.nodes = [n for n in sup.nodes if n[0] != "service-b-2"]
    m.node_every.last = float("-inf")
    m.refresh()
    _screen(m)
    assert m.controls.selected == "node:service-c-1"  # its neighbour


def test_without_a_terminal_there_is_no_footer_and_no_marker(model: Any) -> None:
    m, _sup, _perform = model
    m.controls.interactive = False
    screen = _screen(m)
    assert "> " not in screen and "help" not in screen and "not run yet" not in screen


def test_decoding_keys() -> None:
    assert decode("jk\x1b[A\x1b[B\x1bOA\r\n\t\x7f\x1b") == [
        "j", "k", "up", "down", "up", "enter", "enter", "tab", "backspace", "esc"]
    assert decode("\x1b[5~\x1b[6~\x1b[H\x1b[F\x1b[1;5A?") == ["pgup", "pgdn", "home", "end", "?"]
    assert decode("é\x03") == ["é"]


def _flags(fd: int) -> tuple[bool, bool]:
    lflag = termios.tcgetattr(fd)[3]
    return bool(lflag & termios.ICANON), bool(lflag & termios.ECHO)


@pytest.fixture
def pty() -> Iterator[tuple[int, io.TextIOWrapper]]:
    master, slave = os.openpty()
    stream = open(slave, encoding="utf-8")  # noqa: SIM115 (closed below)
    try:
        yield master, stream
    finally:
        stream.close()
        os.close(master)


def test_the_terminal_is_restored_after_keys_and_after_an_error(
        pty: tuple[int, io.TextIOWrapper]) -> None:
    master, stream = pty
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    assert _flags(fd) == (True, True)
    with keys_from(stream) as reader:
        assert reader is not None and _flags(fd) == (False, False)
        os.write(master, b"j\x1b[B")
        assert reader.read(2.0) == ["j", "down"]
        assert reader.read(0.01) == []
    assert termios.tcgetattr(fd) == saved
    with pytest.raises(RuntimeError), keys_from(stream) as reader:
        assert _flags(fd) == (False, False)
        raise RuntimeError("the view failed")
    assert termios.tcgetattr(fd) == saved
    with keys_from(io.StringIO()) as none:
        assert none is None


def _live(tmp_path: Path, sup: Callable[[Home, int], TopologyStatus]) -> LiveModel:
    return LiveModel(Home(tmp_path), status=sup, perform=Performer())


def test_run_live_quits_on_q_and_restores_the_terminal(
        pty: tuple[int, io.TextIOWrapper], tmp_path: Path) -> None:
    master, stream = pty
    saved = termios.tcgetattr(stream.fileno())
    console = Console(file=io.StringIO(), force_terminal=True, width=120, height=40)
    os.write(master, b"jq")
    assert run_live(Home(tmp_path), console, refresh_s=0.05, keyboard=stream,
                    model=_live(tmp_path, Supervisor())) == "quit"
    assert termios.tcgetattr(stream.fileno()) == saved
    assert "gateway" in console.file.getvalue()  # type: ignore[attr-defined]


def test_run_live_restores_the_terminal_when_the_view_fails(
        pty: tuple[int, io.TextIOWrapper], tmp_path: Path) -> None:
    _master, stream = pty
    saved = termios.tcgetattr(stream.fileno())
    sup = Supervisor()

    def failing(home: Home, since: int) -> TopologyStatus:
        if sup.polls >= 2:
            raise RuntimeError("boom")
        return sup(home, since)

    console = Console(file=io.StringIO(), force_terminal=True, width=120, height=40)
    with pytest.raises(RuntimeError, match="boom"):
        run_live(Home(tmp_path), console, refresh_s=0.05, keyboard=stream,
                 model=_live(tmp_path, failing))
    assert termios.tcgetattr(stream.fileno()) == saved
    # without a terminal to read keys from, the view runs as before: no keys, no footer
    plain = Console(file=io.StringIO(), force_terminal=True, width=120, height=40)
    assert run_live(Home(tmp_path), plain, refresh_s=0.05, duration_s=0.3,
                    keyboard=io.StringIO(), model=_live(tmp_path, Supervisor())) == "duration"
    assert "quit" not in plain.file.getvalue()  # type: ignore[attr-defined]


def test_the_keys_stay_on_a_small_screen(model: Any) -> None:
    m, _sup, _perform = model
    for i in range(30):
        m.feed.append(f"event {i}")
    console = Console(record=True, width=100, height=20, color_system=None)
    console.print(Dashboard(m).render(20))
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) == 20, len(lines)
    assert lines[-1].rstrip().endswith("quit") and lines[0].startswith("rpcdemo ")
    narrow = Console(record=True, width=50, height=20, color_system=None)
    narrow.print(Dashboard(m).render(20))  # the keys wrap over several lines, all shown
    lines = narrow.export_text().rstrip("\n").splitlines()
    assert len(lines) == 20 and lines[-1].rstrip().endswith("quit"), lines
    assert any(line.startswith("gateway  x  kill") for line in lines[-4:]), lines
    m.feed.clear()  # a short body: the keys stay on the last line
    console = Console(record=True, width=100, height=40, color_system=None)
    console.print(Dashboard(m).render(40))
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) == 40 and lines[-1].rstrip().endswith("quit"), lines


def test_an_action_that_fails_unexpectedly_is_shown_not_lost(model: Any) -> None:
    m, _sup, perform = model

    def broken(name: str, target: str) -> Outcome:
        raise RuntimeError("socket went away")

    perform.answer = broken
    _press(m, "x")
    m.refresh()
    assert not m.controls.running
    assert "✗ kill gateway: RuntimeError: socket went away" in _screen(m)
