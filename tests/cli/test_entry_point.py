"""The `rpcdemo` entry point itself: click's usage errors are one line too, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def _help(cache: Path | None, *options: str, args: tuple[str, ...] = ("--help",), **env: str,
          ) -> subprocess.CompletedProcess[str]:
    more = {"XDG_CACHE_HOME": str(cache)} if cache is not None else {}
    return subprocess.run([sys.executable, *options, "-m", "resonate_rpc_cli", *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL,
                          env={"PATH": "/usr/bin", **more, **env})


def test_help_is_recorded_once_then_printed_from_the_record(tmp_path: Path) -> None:
    """The record is Typer's live output, byte for byte; a later --help loads no Typer."""
    live = _help(None)  # no cache directory at all: Typer renders it
    first = _help(tmp_path)
    assert live.returncode == first.returncode == 0 and live.stdout == first.stdout
    assert len(list((tmp_path / "rpcdemo").glob("help-*.txt"))) == 1
    again = _help(tmp_path, "-X", "importtime")
    assert again.returncode == 0 and again.stdout == live.stdout
    assert " typer" not in again.stderr and " rich" not in again.stderr
    narrow_live, narrow = _help(None, COLUMNS="60"), _help(tmp_path, COLUMNS="60")
    assert narrow.stdout == narrow_live.stdout != live.stdout  # another width, another record
    assert len(list((tmp_path / "rpcdemo").glob("help-*.txt"))) == 2
    with_home = ("--home", str(tmp_path), "--help")
    assert _help(tmp_path, args=with_home).stdout == live.stdout  # recorded
    assert _help(tmp_path, "-X", "importtime", args=with_home).stdout == live.stdout
    assert len(list((tmp_path / "rpcdemo").glob("help-*.txt"))) == 3
