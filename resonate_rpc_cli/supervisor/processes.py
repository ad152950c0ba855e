"""The real world behind the supervisor's protocols: Popen, killpg, HTTP and ready files."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time

from resonate_rpc_cli.backends import Backend
from resonate_rpc_cli.clients.http import http_ok
from resonate_rpc_cli.contracts.naming import GATEWAY, SERVER
from resonate_rpc_cli.supervisor.readiness import DeclaredReadiness, server_listeners
from resonate_rpc_cli.supervisor.topology_config import LaunchSpec, TopologyConfig


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class PopenHandle:
    """A child started in its own session; :meth:`poll` reaps it."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        return self.popen.poll()


def child_env(spec: LaunchSpec) -> dict[str, str]:
    """The whole environment of ``spec``'s process: ours, its own on top, minus our marker."""
    env = {**os.environ, **spec.env}
    env.pop("RPCDEMO_SUPERVISOR", None)  # marks the daemon itself, not its children
    return env


def prepare(spec: LaunchSpec) -> None:
    """Create the log's directory; remove a ready file an earlier incarnation left."""
    spec.log.parent.mkdir(parents=True, exist_ok=True)
    if spec.ready_file is not None:
        with contextlib.suppress(FileNotFoundError):
            spec.ready_file.unlink()


class PopenSpawner:
    """Starts a node without a shell, in a new session, output appended to its log."""

    def spawn(self, spec: LaunchSpec) -> PopenHandle:
        """Start ``spec``; a ready file left by an earlier incarnation is removed first."""
        prepare(spec)
        env = child_env(spec)
        with spec.log.open("ab") as out:
            popen = subprocess.Popen(
                spec.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=env, start_new_session=True, close_fds=True, cwd=spec.cwd,
            )
        return PopenHandle(popen)


class KillpgSender:
    """Signals a whole process group; a group that is already gone is not an error."""

    def send_group(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)


def read_ready_file(spec: LaunchSpec) -> dict[str, object] | None:
    """The ready file of this incarnation if it exists and names its node id."""
    if spec.ready_file is None:
        return None
    try:
        obj = json.loads(spec.ready_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    if spec.node_id and obj.get("node_id") not in (None, spec.node_id):
        return None
    return obj


class HttpReadinessProbe:
    """Server: the backend's readiness (``GET /ready``; resonate-pg: a SQL round trip);
    a declared group's node: its group's readiness (``readiness.py``); gateway: ready file
    and ``GET /health``; services: ready file."""

    def __init__(self, config: TopologyConfig, backend: Backend) -> None:
        self.config = config
        self.backend = backend
        self.declared = DeclaredReadiness(server_listeners(config.server_url))

    def ready(self, spec: LaunchSpec) -> bool | str:
        if spec.group == SERVER:
            return self.backend.ready(self.config.server_url)
        if spec.ready is not None:
            return self.declared.ready(spec)
        if read_ready_file(spec) is None:
            return False
        if spec.group == GATEWAY:
            return http_ok(self.config.gateway_url + "/health")
        return True

