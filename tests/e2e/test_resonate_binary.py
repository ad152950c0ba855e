"""e2e: `up --server resonate` with a stand-in `resonate` on PATH.

The real binary cannot be installed here, so a small executable named
``resonate`` stands in for it: it accepts only ``dev``/``serve``, reads its
port and bind address from ``RESONATE_SERVER__*`` like the real server, has no
lifeline of its own (it drops ``RPCDEMO_PARENT_PID``) and runs our server with
its extras off. That checks how rpcdemo starts, waits for and cleans up a
server binary it does not control.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.e2e._cli_support import Cli, assert_nothing_left, end_leftovers, new_cli, short_home
from tests.procs import PYTHON, processes_of_home

pytestmark = pytest.mark.e2e

STAND_IN = f"""#!{sys.executable}
import os, sys
mode = sys.argv[1:]
if mode not in (["dev"], ["serve"]):
    sys.exit("stand-in resonate: expected dev or serve, got %r" % (mode,))
env = dict(os.environ)
env.pop("RPCDEMO_PARENT_PID", None)  # like the real binary: no lifeline
store = ["--memory"] if mode == ["dev"] else ["--store", env["RESONATE_STORAGE__SQLITE__PATH"]]
os.execve(sys.executable, [sys.executable, "-m", "resonate_rpc_cli.server",
          "--host", env["RESONATE_SERVER__BIND"], "--port", env["RESONATE_SERVER__PORT"],
          "--no-extras", *store], env)
"""


@dataclass
class Topo:
    cli: Cli
    env: dict[str, str]
    stand_in: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.cli.argv(*args), capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, env=self.env, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc


@pytest.fixture(scope="module")
def topo() -> Iterator[Topo]:
    with short_home() as home:
        bin_dir = home.parent / "bin"
        bin_dir.mkdir()
        stand_in = bin_dir / "resonate"
        stand_in.write_text(STAND_IN)
        stand_in.chmod(0o755)
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        cli = new_cli(home)
        t = Topo(cli, env, stand_in)
        try:
            up = t.run(*cli.up_args("--detach", "--server", "resonate", "--memory"))
            assert up.returncode == 0, (up.stdout, up.stderr)
            yield t
        finally:
            t.run("down")
            left = end_leftovers(home)
            assert not left, f"left running after down: {left}"


def server_processes(topo: Topo) -> list[psutil.Process]:
    return [p for p in processes_of_home(topo.cli.home)
            if "resonate_rpc_cli.server" in " ".join(p.cmdline())]


def test_the_binary_runs_under_the_guard_and_serves_flows(topo: Topo) -> None:
    status: Any = topo.cli.json("status")
    server = next(n for n in status["nodes"] if n["name"] == "server")
    assert server["state"] == "ready"
    guard = psutil.Process(int(server["pid"]))
    assert guard.cmdline()[1:5] == ["-m", "resonate_rpc_cli.supervisor.binary_guard",
                                    str(topo.stand_in), "dev"], guard.cmdline()
    (real,) = server_processes(topo)
    assert real.ppid() == guard.pid and os.getpgid(real.pid) == guard.pid
    assert status["server"]["kind"] == "resonate" and status["server"]["extras"] is False
    doc = topo.cli.json("run", "await-chain", "--arg", "2", "--timeout", "30")
    assert (doc["state"], doc["result"]) == ("resolved", 4), doc


def test_kill_9_of_the_supervisor_takes_the_binary_down_too(topo: Topo) -> None:
    pid = int(topo.cli.json("status")["supervisor"]["pid"])
    assert server_processes(topo), "the stand-in server is running"
    os.kill(pid, signal.SIGKILL)
    assert_nothing_left(topo.cli.home, timeout=10)


def test_a_bad_stand_in_exit_is_reported(tmp_path: Path) -> None:
    """The guard passes the binary's exit code on (here: usage error of the stand-in)."""
    stand_in = tmp_path / "resonate"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    proc = subprocess.run([PYTHON, "-m", "resonate_rpc_cli.supervisor.binary_guard", str(stand_in),
                           "serve-all"], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 1 and "expected dev or serve" in proc.stderr, proc
