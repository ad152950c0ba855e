"""A supervisor with fake processes behind a real control socket, for CliRunner tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from resonate_rpc_cli.cli import app
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.supervisor.control import ControlServer
from resonate_rpc_cli.supervisor.daemon import serve
from tests.unit._supervisor_fakes import Rig, make_rig


@dataclass
class Running:
    home: Path
    rig: Rig
    #: the control socket's server (its ``links`` take the ``links.*`` ops)
    server: ControlServer


@contextmanager
def fake_supervisor(home: Path, **config: object) -> Iterator[Running]:
    """Serve ``home``'s control socket from a fake-process supervisor in a thread
    (``config``: its ``TopologyConfig`` fields)."""
    h = Home(home)
    h.ensure()
    rig = make_rig(home, None, **config)
    rig.steps(4)
    server = ControlServer(h)
    server.start()
    stop: list[bool] = []
    thread = threading.Thread(target=serve, args=(rig.sup, server.requests, stop), daemon=True)
    thread.start()
    try:
        yield Running(home, rig, server)
    finally:
        stop.append(True)
        thread.join(10)
        server.close()
        assert not thread.is_alive()


def rpcdemo(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the real CLI app against ``home``; (exit code, stdout, stderr), never a traceback."""
    result = CliRunner().invoke(app, ["--home", str(home), *args], env=env)
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr
