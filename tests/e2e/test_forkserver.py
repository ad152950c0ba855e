"""The fork server as real processes: forks, sessions, exit codes, and no orphans.

Each test starts ``python -m resonate_rpc_cli.supervisor.fork.server`` through
:class:`ForkClient` (no preload, so it starts fast) in a temporary HOME whose
path every process carries as ``RPCDEMO_HOME``, so leftovers are found.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from resonate_rpc_cli.supervisor.fork.client import LOST, ForkClient, ForkedProcess, ForkServerError
from tests.procs import PYTHON, proc_group, processes_of_home, spawn, wait_until

pytestmark = pytest.mark.e2e

CHILD = "tests.e2e._fork_child"


@pytest.fixture
def home() -> Iterator[Path]:
    """A short HOME (Unix socket paths are limited); checked for leftovers afterwards."""
    root = Path(tempfile.mkdtemp(prefix="rpcfk-"))
    try:
        yield root
        wait_until(lambda: not processes_of_home(root), 10, "no process of the test left",
                   interval=0.05)
    finally:
        for proc in processes_of_home(root):
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


def base_env(home: Path) -> dict[str, str]:
    return {**os.environ, "RPCDEMO_HOME": str(home.resolve())}


@pytest.fixture
def client(home: Path) -> Iterator[ForkClient]:
    fork = ForkClient(home / "fork.sock", home / "forkserver.log", base_env(home), preload="")
    try:
        yield fork
    finally:
        fork.close()


def child(
    client: ForkClient, home: Path, mode: str, name: str, timeout_s: float = 10.0, **extra: str,
) -> ForkedProcess:
    env = {**base_env(home), "FORK_CHILD": mode, "FORK_CHILD_FILE": str(home / f"{name}.json"),
           **extra}
    return client.spawn(CHILD, env, home / f"{name}.log", timeout_s=timeout_s)


def child_info(home: Path, name: str) -> dict[str, Any]:
    path = home / f"{name}.json"
    info = wait_until(lambda: path.exists() and json.loads(path.read_text()), 10,
                      f"{name} to report itself")
    assert isinstance(info, dict)
    return info


def exit_code(proc: ForkedProcess) -> int:
    seen = wait_until(lambda: (code,) if (code := proc.poll()) is not None else None,
                      10, f"pid {proc.pid} to exit")
    assert seen is not None
    return seen[0]


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_exit_codes_are_reported_like_popen(client: ForkClient, home: Path) -> None:
    zero = child(client, home, "exit:0", "zero")
    seven = child(client, home, "exit:7", "seven")
    raised = child(client, home, "raise", "raised")
    sleeper = child(client, home, "sleep", "sleeper")
    assert exit_code(zero) == 0
    assert exit_code(seven) == 7
    assert exit_code(raised) == 1
    assert "child failed on purpose" in (home / "raised.log").read_text()
    child_info(home, "sleeper")
    assert sleeper.poll() is None
    os.killpg(sleeper.pid, signal.SIGKILL)
    assert exit_code(sleeper) == -signal.SIGKILL


def test_a_child_leads_its_own_session_with_the_environment_it_was_given(
    client: ForkClient, home: Path,
) -> None:
    proc = child(client, home, "sleep", "one", ONLY_HERE="yes")
    # right after the reply: killpg(pid) must already reach it
    assert os.getpgid(proc.pid) == proc.pid and os.getsid(proc.pid) == proc.pid
    info = child_info(home, "one")
    assert info["pid"] == proc.pid and info["sid"] == proc.pid
    assert info["parent"] == client.proc.pid
    assert info["env"]["RPCDEMO_PARENT_PID"] == str(client.proc.pid)
    assert info["env"]["ONLY_HERE"] == "yes"
    # as under `python -m`: a client gone mid-response must not kill a forked gateway
    assert info["sigpipe_ignored"], "a forked child dies of SIGPIPE"
    other = child(client, home, "sleep", "two")
    assert "ONLY_HERE" not in child_info(home, "two")["env"], "environments leak between forks"
    assert "child" in (home / "one.log").read_text()
    for p in (proc, other):
        os.killpg(p.pid, signal.SIGKILL)
        exit_code(p)


def test_closing_the_client_stops_the_fork_server_and_its_children(home: Path) -> None:
    client = ForkClient(home / "fork.sock", home / "forkserver.log", base_env(home), preload="")
    procs = [child(client, home, "sleep", f"c{i}") for i in range(3)]
    for i in range(3):
        child_info(home, f"c{i}")
    client.close()
    assert client.proc.poll() is not None
    wait_until(lambda: all(gone(p.pid) for p in procs), 10, "children gone after close")


def test_kill_9_of_the_fork_servers_parent_takes_the_fork_server_and_children(
    home: Path,
) -> None:
    with proc_group() as procs:
        parent = procs.add(spawn([PYTHON, "-m", "tests.e2e._fork_parent", str(home)],
                                 home / "parent.log", env=base_env(home), name="parent"))
        def started() -> dict[str, int] | None:
            assert parent.alive(), f"parent exited: {parent.output()[-500:]}"
            path = home / "parent.json"
            return dict(json.loads(path.read_text())) if path.exists() else None

        pids = wait_until(started, 20, "the stand-in supervisor to fork a child")
        assert pids is not None
        child_info(home, "child")
        assert not gone(pids["forkserver"]) and not gone(pids["child"])
        parent.signal(signal.SIGKILL)
        wait_until(lambda: gone(pids["forkserver"]) and gone(pids["child"]), 10,
                   "fork server and child gone after kill -9 of their supervisor")
        wait_until(lambda: not processes_of_home(home), 10, "no process of this HOME left")


def test_kill_9_of_the_fork_server_reports_lost_and_refuses_new_forks(
    client: ForkClient, home: Path,
) -> None:
    node = child(client, home, "lifeline", "node")
    child_info(home, "node")
    os.killpg(client.proc.pid, signal.SIGKILL)
    assert exit_code(node) == LOST
    assert not client.alive
    with pytest.raises(ForkServerError):
        child(client, home, "exit:0", "late")
    # the child's lifeline ends it once its parent (the fork server) is gone
    wait_until(lambda: gone(node.pid), 10, "the fork server's child to exit by its lifeline")


def test_a_module_that_cannot_be_imported_exits_1_with_the_error_in_its_log(
    client: ForkClient, home: Path,
) -> None:
    proc = client.spawn("tests.e2e.no_such_module", base_env(home), home / "missing.log")
    assert exit_code(proc) == 1
    assert "No module named" in (home / "missing.log").read_text()
    # the fork server is still serving
    assert exit_code(child(client, home, "exit:3", "after")) == 3


def test_a_fork_answered_after_its_timeout_is_killed_not_left_running(
    client: ForkClient, home: Path,
) -> None:
    os.kill(client.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(ForkServerError, match="did not answer"):
            child(client, home, "sleep", "late", timeout_s=0.3)
    finally:
        os.kill(client.proc.pid, signal.SIGCONT)
    # requests are served in order: once this one is answered, the late one was too
    later = child(client, home, "sleep", "later")
    child_info(home, "later")
    wait_until(lambda: sorted(p.pid for p in processes_of_home(home))
               == sorted([client.proc.pid, later.pid]), 10,
               "the late child killed: only the fork server and the later child")
    assert client.alive
    os.killpg(later.pid, signal.SIGKILL)
    exit_code(later)
