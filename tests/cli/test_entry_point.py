"""The `rpcdemo` entry point itself: click's usage errors are one line too, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _rpcdemo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "resonate_rpc_cli", *args], capture_output=True,
                          text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
                          env={"RPCDEMO_HOME": "/nonexistent/rpcdemo-home", "PATH": "/usr/bin"})


@pytest.mark.parametrize(("args", "message"), [
    (["up", "--server-port", "abc"], "Invalid value for '--server-port'"),
    (["tree"], "Missing argument"),
    (["nosuchcmd"], "No such command 'nosuchcmd'"),
    (["status", "--nosuch"], "No such option: --nosuch"),
])
def test_click_usage_errors_are_one_line_with_exit_2(args: list[str], message: str) -> None:
    proc = _rpcdemo(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rpcdemo: ") and message in lines[0], lines
    assert "Traceback" not in proc.stderr


def test_our_own_errors_keep_their_exit_codes() -> None:
    proc = _rpcdemo("status")
    assert proc.returncode == 3
    assert proc.stderr.strip() == (
        "rpcdemo: nothing is running under /nonexistent/rpcdemo-home; "
        "start it with `rpcdemo up`")


def test_help_still_works() -> None:
    proc = _rpcdemo("--help")
    assert proc.returncode == 0
    assert "Usage: rpcdemo" in proc.stdout
