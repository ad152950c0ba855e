"""HOME/run/endpoints.json: what `run` reads instead of asking the supervisor."""

from __future__ import annotations

import os
from pathlib import Path

from resonate_rpc_cli.contracts.home import Endpoints, Home


def unused_pid() -> int:
    """A pid no process has now (the highest free one below pid_max)."""
    top = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(top - 1, 1, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free pid")


def test_endpoints_round_trip_while_their_supervisor_lives(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.ensure()
    assert Endpoints.read(home) is None  # nothing runs
    mine = Endpoints("http://127.0.0.1:8001", None, os.getpid())
    mine.write(home)
    assert Endpoints.read(home) == mine
    Endpoints.remove(home)
    assert Endpoints.read(home) is None and not home.endpoints_file.exists()


def test_a_file_left_by_a_dead_supervisor_or_a_torn_one_reads_as_nothing(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.ensure()
    Endpoints("http://127.0.0.1:8001", "http://127.0.0.1:8000", unused_pid()).write(home)
    assert Endpoints.read(home) is None
    home.endpoints_file.write_text('{"server_url": "http://x"')
    assert Endpoints.read(home) is None
