"""The real spawner and signal sender on a tiny child process."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from resonate_rpc_cli.supervisor.processes import KillpgSender, PopenSpawner
from resonate_rpc_cli.supervisor.topology_config import LaunchSpec

pytestmark = pytest.mark.e2e

REPORT = ("import json, os, sys, time; print(json.dumps({'sid': os.getsid(0), 'pid': os.getpid(),"
          " 'env': {k: v for k, v in os.environ.items() if k.startswith('RPCDEMO_')}}),"
          " flush=True); time.sleep(float(sys.argv[1]))")


def spec(tmp_path: Path, seconds: float) -> LaunchSpec:
    return LaunchSpec(name="service-a-1", group="service-a", node_id="n2", incarnation=2,
                      argv=[sys.executable, "-c", REPORT, str(seconds)],
                      env={"RPCDEMO_HOME": str(tmp_path), "RPCDEMO_PARENT_PID": "1"},
                      log=tmp_path / "logs" / "service-a-1.2.log",
                      ready_file=tmp_path / "ready.json")


def test_spawn_in_own_session_with_env_log_and_no_stale_ready_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPCDEMO_SUPERVISOR", "1")
    s = spec(tmp_path, 0)
    assert s.ready_file is not None
    s.ready_file.write_text("{}")  # left by an earlier incarnation
    handle = PopenSpawner().spawn(s)
    assert not s.ready_file.exists()
    handle.popen.wait(10)
    assert handle.poll() == 0
    report = json.loads(s.log.read_text().splitlines()[0])
    assert report["sid"] == report["pid"] == handle.pid  # a session of its own
    assert report["env"] == {"RPCDEMO_HOME": str(tmp_path), "RPCDEMO_PARENT_PID": "1"}


def test_killpg_reaches_the_group_and_ignores_the_gone(tmp_path: Path) -> None:
    handle = PopenSpawner().spawn(spec(tmp_path, 30))
    sender = KillpgSender()
    sender.send_group(handle.pid, signal.SIGKILL)
    assert handle.popen.wait(10) == -signal.SIGKILL
    sender.send_group(handle.pid, signal.SIGKILL)  # already gone: no error
