"""e2e: no orphans when the supervisor or a foreground `up` dies; stale state is cleaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor import updown
from resonate_rpc_cli.supervisor.client import SupervisorClient
from tests.e2e._cli_support import (
    Cli,
    assert_nothing_left,
    end_leftovers,
    new_cli,
    short_home,
)
from tests.procs import processes_of_home, wait_until

pytestmark = pytest.mark.e2e


def test_kill_9_of_the_supervisor_leaves_nothing_and_a_later_up_cleans_up() -> None:
    with short_home() as home:
        cli = new_cli(home)
        try:
            assert cli.run(*cli.up_args("--detach")).returncode == 0
            sup_pid = cli.json("status")["supervisor"]["pid"]
            assert len(processes_of_home(home)) >= 12  # supervisor + server + gateway + 9
            os.kill(sup_pid, signal.SIGKILL)
            assert_nothing_left(home, timeout=6.0)
            # the dead run left its socket and pid file behind
            assert (home / "run" / "supervisor.pid").exists()
            status = cli.run("status")
            assert status.returncode == 3 and "nothing is running" in status.stderr
            again = cli.run(*cli.up_args("--detach"))
            assert again.returncode == 0, again.stderr
            assert cli.json("run", "fan-out", "--arg", "2")["result"] == 9
            assert cli.run("down").returncode == 0
            assert_nothing_left(home, timeout=1.0)
        finally:
            end_leftovers(home)


def _foreground_up(cli: Cli) -> subprocess.Popen[str]:
    """`rpcdemo up` in the foreground (not a terminal: it waits without the live view)."""
    return subprocess.Popen(cli.argv(*cli.up_args()), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_foreground_up_takes_everything_down_with_it(how: str) -> None:
    with short_home() as home:
        cli = new_cli(home)
        up = _foreground_up(cli)
        try:
            wait_until(lambda: (up.poll() is not None and f"exited {up.returncode}") or
                       (SupervisorClient(Home(home)).answering() and
                       cli.json("status")["supervisor"]["states"] == {"ready": 11}),
                       30, "foreground up to be ready")
            assert up.poll() is None, up.stderr.read() if up.stderr else ""
            up.send_signal(getattr(signal, how))
            up.wait(20)
            assert_nothing_left(home, timeout=8.0)
            if how == "SIGINT":
                assert up.returncode in (0, 130), up.stderr.read() if up.stderr else ""
        finally:
            if up.poll() is None:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()
            if up.stdout:
                up.stdout.close()
            if up.stderr:
                up.stderr.close()
            end_leftovers(home)


def test_a_port_in_use_names_the_port_and_its_holder_and_starts_nothing() -> None:
    with short_home() as home:
        cli = new_cli(home)
        holder = subprocess.Popen(
            [sys.executable, "-c", "import socket,sys,time; s=socket.socket(); "
             "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); print('ok', flush=True); "
             "time.sleep(60)", str(cli.gateway_port)],
            stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
            up = cli.run(*cli.up_args("--detach"))
            assert up.returncode == 3, (up.stdout, up.stderr)
            assert f"gateway port {cli.gateway_port} on 127.0.0.1 is in use" in up.stderr
            assert f"pid {holder.pid}" in up.stderr, up.stderr
            assert len(up.stderr.strip().splitlines()) == 1, up.stderr
            assert_nothing_left(home, timeout=1.0)
            assert not (home / "run" / "control.sock").exists()
        finally:
            os.killpg(holder.pid, signal.SIGKILL)
            holder.wait()
            if holder.stdout:
                holder.stdout.close()
            end_leftovers(home)


def test_stale_cleanup_ends_our_leftovers_but_not_a_bystander_with_the_same_home() -> None:
    with short_home() as home:
        h = Home(home)
        h.ensure()
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        base = {k: v for k, v in os.environ.items() if not k.startswith("RPCDEMO_")}
        bystander = subprocess.Popen(sleeper, env={**base, "RPCDEMO_HOME": str(home)},
                                     start_new_session=True)
        leftover = subprocess.Popen(sleeper, env={**base, "RPCDEMO_HOME": str(home),
                                                  "RPCDEMO_PARENT_PID": "1"},
                                    start_new_session=True)
        try:
            wait_until(lambda: len(processes_of_home(home)) == 2, 5, "both sleepers to run")
            assert updown.clean_stale(h) == 1
            leftover.wait(5)  # ended (psutil reaped it already, so no exit code to compare)
            assert bystander.poll() is None
        finally:
            for p in (bystander, leftover):
                if p.poll() is None:
                    p.kill()
                p.wait()
