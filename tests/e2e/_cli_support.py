"""Helpers for the CLI's e2e tests: run `rpcdemo` as a real process, short HOMEs, cleanup."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from tests.e2e._topology_support import patched_environ
from tests.procs import PYTHON, free_port, processes_of_home, short_home, wait_until


@dataclass
class Cli:
    """`rpcdemo --home HOME ...` as a subprocess."""

    home: Path
    server_port: int
    gateway_port: int

    def argv(self, *args: str) -> list[str]:
        return [PYTHON, "-m", "resonate_rpc_cli", "--home", str(self.home), *args]

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str, timeout: float = 60.0) -> Any:
        proc = self.run(*args, "--json", timeout=timeout)
        assert proc.returncode == 0, (args, proc.returncode, proc.stdout, proc.stderr)
        return json.loads(proc.stdout)

    def up_args(self, *extra: str) -> list[str]:
        return ["up", "--server-port", str(self.server_port),
                "--gateway-port", str(self.gateway_port), *extra]

    def node(self, name: str) -> dict[str, Any]:
        nodes = self.json("status")["nodes"]
        return next(n for n in nodes if n["name"] == name)




def new_cli(home: Path) -> Cli:
    return Cli(home, free_port(), free_port())


def end_leftovers(home: Path) -> list[str]:
    """Kill whatever of ``home`` still runs (as a safety net); describe what was found."""
    found = processes_of_home(home)
    desc = [f"{p.pid} {' '.join(p.cmdline()[-3:])}" for p in found]
    for proc in found:
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
    return desc


def assert_nothing_left(home: Path, timeout: float = 8.0) -> None:
    """Poll until no process of ``home`` is alive; fail naming what is."""
    wait_until(lambda: not processes_of_home(home), timeout,
               f"no process of {home} left", interval=0.1)


__all__ = ["Cli", "assert_nothing_left", "end_leftovers", "new_cli", "post_flow", "short_home"]


def post_flow(cli: Cli, route: str, flow_id: str, arg: int,
              timeout_s: float = 60) -> dict[str, Any]:
    """``POST <gateway><route>`` with a flow's id and argument; the gateway's JSON answer
    (the flow may take up to ``timeout_s``; raises OSError/HTTPError otherwise)."""
    body = json.dumps({"id": flow_id, "arg": arg, "timeout": timeout_s}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{cli.gateway_port}{route}", data=body,
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout_s + 10) as resp:
        answer: dict[str, Any] = json.loads(resp.read())
    return answer


@contextlib.contextmanager
def running_topology(*up_flags: str, env: Mapping[str, str] | None = None) -> Iterator[Cli]:
    """A topology started with ``up --detach *up_flags`` under a fresh short HOME.

    ``env`` is set around ``up`` only (the supervisor passes it on to its nodes). On exit
    the topology is taken down and the test fails if any of its processes is left running.
    """
    with short_home() as home:
        c = new_cli(home)
        try:
            with patched_environ(env or {}):
                up = c.run(*c.up_args("--detach", *up_flags))
            assert up.returncode == 0, (up.stdout, up.stderr)
            yield c
        finally:
            c.run("down")
            left = end_leftovers(home)
            assert not left, f"left running after down: {left}"
