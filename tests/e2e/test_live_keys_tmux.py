"""e2e: `rpcdemo up` in a real terminal (a tmux pane), driven by real key presses: select a
node, pause and resume it, kill it with a respawn, partition and heal its link, run a flow,
resolve a pending promise with a typed value, open the help, and quit with q, which stops
the topology and leaves the terminal as it found it (echo and line editing back on).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.rows import NodeRow
from tests.e2e._cli_support import end_leftovers, new_cli
from tests.procs import PYTHON, processes_of_home, short_home, wait_until

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]

UP = ("--links", "--ttl", "3", "--only", "gateway,service-a,service-b,service-c")


class Pane:
    """One tmux pane on a private tmux server (its own socket), as a person sees it."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                             capture_output=True, text=True, timeout=10, check=False)
        return out.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", "keys", *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "keys")

    def footer(self) -> str:
        """The keys line: the last line that lists ``q  quit`` (read again while the view
        is caught redrawing it)."""
        deadline = time.monotonic() + 5.0
        while True:
            lines = [line for line in self.screen().splitlines() if "q  quit" in line]
            if lines or time.monotonic() > deadline:
                return lines[-1] if lines else ""
            time.sleep(0.02)

    def wait(self, pattern: str, what: str, timeout: float = 30.0) -> str:
        """Poll the screen until ``pattern`` is on it; fail showing the last screen."""
        found = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if found.search(screen):
                return screen
            if time.monotonic() > deadline:
                size = self.tmux("display-message", "-p", "-t", "keys",
                                 "#{window_width}x#{window_height}").strip()
                raise AssertionError(f"no {what} within {timeout}s; the screen ({size}):\n"
                                     f"{screen}")
            time.sleep(0.1)

    def move(self, key: str) -> None:
        """Press ``key`` and wait until the selection has moved (the footer changed)."""
        before = self.footer()
        self.keys(key)
        wait_until(lambda: self.footer() != before, 5, f"the selection to move on {key}",
                   interval=0.05)

    def select(self, row: str, limit: int = 40) -> None:
        """Press j until ``row`` is selected (the footer starts with its id)."""
        seen = []
        for _ in range(limit):
            seen.append(self.footer()[:30])
            if seen[-1].startswith(f"{row} "):
                return
            self.move("j")
        raise AssertionError(f"{row} never selected; footers seen: {seen}")


@contextlib.contextmanager
def pane_running_up(home: Path, done: Path) -> Iterator[Pane]:
    cli = new_cli(home)
    argv = [PYTHON, "-m", "resonate_rpc_cli", "--home", str(home), *cli.up_args(*UP)]
    # after rpcdemo: its exit code and the terminal's settings, read in the same pane
    # (pytest sets COLUMNS and LINES, which would override the pane's size)
    script = (f"unset COLUMNS LINES; {shlex.join(argv)}; echo EXIT=$? > {done}.tmp; "
              f"stty -a >> {done}.tmp; mv {done}.tmp {done}; exec sleep 300")
    pane = Pane(f"rpcdemo-keys-{os.getpid()}")
    pane.tmux("new-session", "-d", "-s", "keys", "-x", "200", "-y", "70", "sh", "-c", script)
    try:
        yield pane
    finally:
        pane.tmux("kill-server")
        cli.run("down")
        left = end_leftovers(home)
        assert not left, f"left running: {left}"


def _node(home: Path, name: str) -> NodeRow:
    return next(n for n in SupervisorClient(Home(home)).status().nodes if n.name == name)


def test_keys_in_a_real_terminal(tmp_path: Path) -> None:
    done = tmp_path / "after.txt"
    with short_home() as home, pane_running_up(home, done) as pane:
        pane.wait(r"service-c-1 .* ready ", "the live view", 90)
        pane.wait(r"q  quit", "the keys", 5)
        _node_keys(pane, home)
        _flow_and_promise_keys(pane, home)
        pane.keys("?")
        pane.wait(r"on a pending promise", "the help", 5)
        pane.keys("Escape")
        pane.wait(r"processes", "the view back", 5)

        pane.keys("q")
        wait_until(done.exists, 30, "rpcdemo up to end after q", interval=0.1)
        after = done.read_text()
        assert after.startswith("EXIT=0"), after
        flags = set(after.split())
        assert {"icanon", "echo"} <= flags and not {"-icanon", "-echo"} & flags, after
        wait_until(lambda: not processes_of_home(home), 15, "the topology stopped")


def _node_keys(pane: Pane, home: Path) -> None:
    """Pause and resume service-c-1, kill it with a respawn, partition and heal its link."""
    pane.select("service-c-1")
    pane.wait(r"> service-c-1 ", "the selected row marked")
    pane.wait(r"^service-c-1 .* x  kill .* n  partition ", "the node's keys")
    first = _node(home, "service-c-1")

    pane.keys("p")
    pane.wait(r"> service-c-1 .* paused ", "service-c-1 paused on screen", 10)
    assert _node(home, "service-c-1").state == "paused"
    pane.wait(r"^service-c-1 .* p  resume ", "the resume key")
    pane.keys("p")
    pane.wait(r"> service-c-1 .* ready ", "service-c-1 resumed on screen", 10)

    pane.keys("X")
    pane.wait(r"✓ killed service-c-1 .*respawned service-c-1", "the kill+respawn line", 30)
    again = _node(home, "service-c-1")
    assert again.pid != first.pid and again.node_id != first.node_id

    pane.keys("n")
    pane.wait(r"links: service-c-1 partitioned", "the partition on screen", 10)
    assert {lk.node: lk.state for lk in LinkClient(Home(home)).status()}[
        "service-c-1"] == "partitioned"
    pane.keys("n")
    pane.wait(r"✓ healed the link of service-c-1", "the heal on screen", 10)
    assert all(lk.state == "ok" for lk in LinkClient(Home(home)).status())


def _flow_and_promise_keys(pane: Pane, home: Path) -> None:
    """Run an await chain from its flow row; resolve a pending promise with a typed value."""
    pane.move("Tab")
    pane.select("await-chain")
    pane.keys("f")
    pane.wait(r"✓ await-chain \[await-chain-\w+\] resolved = 3", "the flow's result", 60)

    approval = f"approval-{time.time_ns()}"
    port = SupervisorClient(Home(home)).status().config.server_port
    client = ResonateClient(f"http://127.0.0.1:{port}")
    client.request("promise.create", {"id": approval, "param": {}, "tags": {},
                                      "timeoutAt": int(time.time() * 1000) + 3_600_000})
    pane.wait(re.escape(approval), "the pending promise on screen", 10)
    pane.move("G")
    pane.select(approval)
    pane.keys("v")
    pane.wait(r"value as JSON", "the value prompt", 5)
    pane.keys('{"ok": true}', literal=True)
    pane.keys("Enter")
    pane.wait(rf'✓ {re.escape(approval)} resolved = \{{"ok": true\}}', "the resolve", 10)
    assert "resolved" in str(client.request("promise.get", {"id": approval})).lower()
