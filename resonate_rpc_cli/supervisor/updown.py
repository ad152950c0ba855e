"""``up`` and ``down``: start the supervisor daemon and wait for readiness; stop it.

``up`` refuses to start a second topology under one HOME, cleans what a
crashed run left (dead supervisor's pid file and socket, processes whose
environment names this HOME), checks that the ports are free, starts the
daemon in its own session and waits until every node is ready. On any failure
it stops what it started before raising, so nothing is left half-started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from typing import TypedDict

import psutil

from resonate_rpc_cli.clients.tokens import ensure_key_pair, serve_home
from resonate_rpc_cli.contracts.errors import NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.lifeline import ENV_PARENT_PID
from resonate_rpc_cli.contracts.naming import ENV_HOME, GATEWAY
from resonate_rpc_cli.postgres.cluster import cluster_processes, cluster_root
from resonate_rpc_cli.supervisor import variants
from resonate_rpc_cli.supervisor.app_launch import check_programs, declared_failure
from resonate_rpc_cli.supervisor.client import SupervisorClient, TopologyStatus
from resonate_rpc_cli.supervisor.scan import ENV_SUPERVISOR, processes_of_home
from resonate_rpc_cli.supervisor.states import EXITED, NodeState
from resonate_rpc_cli.supervisor.topology_config import (
    DEFAULT_UP_TIMEOUT_S,
    TopologyConfig,
    validate_config,
)

#: beyond the longest declared ready_timeout: the server's start and the nodes' spawn
DECLARED_MARGIN_S = 15.0


@dataclass
class UpResult:
    supervisor_pid: int
    elapsed_s: float
    status: TopologyStatus
    cleaned: int
    daemon: subprocess.Popen[bytes] | None = None


def _tail(path: os.PathLike[str] | str, lines: int = 3) -> str:
    try:
        with open(path, errors="replace") as fh:
            text = fh.read()[-4000:]
    except OSError:
        return ""
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(kept[-lines:])


# -- stale state --------------------------------------------------------------------


def processes_of(home: Home) -> list[psutil.Process]:
    """Live processes rpcdemo started for ``home`` (see :mod:`.scan`), and every
    ``postgres`` process running in HOME's cluster data directory (the cluster of
    `up --server postgres`: its children's environment is overwritten)."""
    found = processes_of_home(home.root, started_by_us=True)
    seen = {p.pid for p in found} | {os.getpid()}
    found += [p for p in cluster_processes(cluster_root(home.root) / "data")
              if p.pid not in seen]
    return found


def terminate(procs: list[psutil.Process], grace_s: float = 3.0) -> None:
    """TERM each process's group (or the process), wait ``grace_s``, then KILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError, psutil.Error):
                pgid = os.getpgid(proc.pid)
                if pgid == proc.pid:
                    os.killpg(pgid, sig)
                else:
                    proc.send_signal(sig)
        _gone, procs = psutil.wait_procs(procs, timeout=grace_s)
        procs = [p for p in procs if _alive(p)]
        if not procs:
            return


def _alive(proc: psutil.Process) -> bool:
    try:
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def clean_stale(home: Home) -> int:
    """Remove what a crashed run left under ``home``; return the processes ended."""
    leftovers = processes_of(home)
    if leftovers:
        terminate(leftovers)
    for path in (home.control_socket, home.pid_file, home.endpoints_file):
        with contextlib.suppress(OSError):
            path.unlink()
    if home.ready_dir.is_dir():
        for ready in home.ready_dir.glob("*.json"):
            with contextlib.suppress(OSError):
                ready.unlink()
    return len(leftovers)


# -- ports --------------------------------------------------------------------------


def port_holder(port: int) -> str | None:
    """``name (pid N)`` of the process listening on ``port``, when we may know it."""
    try:
        conns = psutil.net_connections(kind="inet")
    except (psutil.Error, OSError):
        return None
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port \
                and conn.pid:
            try:
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return None


def check_port_free(host: str, port: int, label: str) -> None:
    """Raise :class:`NotRunningError` naming the port (and its holder) if it is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            holder = port_holder(port)
            by = f" by {holder}" if holder else ""
            raise NotRunningError(
                f"{label} port {port} on {host} is in use{by} ({exc.strerror}); "
                f"pick another with --{label}-port"
            ) from exc


# -- up / down ----------------------------------------------------------------------


def spawn_daemon(home: Home, config: TopologyConfig, owner_pid: int | None
                 ) -> subprocess.Popen[bytes]:
    """Start the supervisor daemon in its own session (no shell).

    With ``owner_pid`` the daemon exits when that process dies (foreground ``up``).
    """
    env = {**os.environ, ENV_HOME: str(home.root), ENV_SUPERVISOR: "1",
           "PYTHONUNBUFFERED": "1"}
    env.pop(ENV_PARENT_PID, None)
    if owner_pid is not None:
        env[ENV_PARENT_PID] = str(owner_pid)
    argv = [sys.executable, "-m", "resonate_rpc_cli.supervisor", "--home", str(home.root),
            "--config", config.to_json()]
    with home.supervisor_log.open("ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _startup_failure(status: TopologyStatus) -> str | None:
    """A one-line reason if some node died before ever getting ready, else None."""
    for node in status.nodes:
        if node.last_exit is not None and node.state in EXITED:
            tail = _tail(node.log) if node.log else ""
            return f"{node.name} exited with {node.last_exit} while starting" + (
                f": {tail}" if tail else "")
    return None


def up(
    home: Home, config: TopologyConfig, detach: bool = True,
    timeout_s: float = DEFAULT_UP_TIMEOUT_S,
) -> UpResult:
    """Start the topology under ``home`` and return once every node is ready.

    Raises :class:`UsageError` for bad configuration or a topology already
    running there, and :class:`NotRunningError` when a port is taken, the
    supervisor dies, a node cannot start or readiness takes longer than
    ``timeout_s`` — in every failure case after stopping whatever it started.
    """
    validate_config(config)
    variants.check_installed(config.variant)
    if config.app is not None:
        check_programs(config.app)
        # a group's own ready_timeout is the longer wait: its message says which it was
        longest = max(g.ready_timeout_s for g in config.app.groups)
        timeout_s = max(timeout_s, longest + DECLARED_MARGIN_S)
    config = check_server_choice(config, home)
    fresh = not home.root.exists()
    home.ensure()
    try:
        return _up(home, config, detach, timeout_s)
    except BaseException:
        if fresh:  # nothing half-created: a HOME this `up` made goes with its failure
            shutil.rmtree(home.root, ignore_errors=True)
        raise


def _up(home: Home, config: TopologyConfig, detach: bool, timeout_s: float) -> UpResult:
    if SupervisorClient(home).answering():
        raise UsageError(
            f"a topology is already running under {home.root}; "
            "see `rpcdemo status`, or stop it with `rpcdemo down`"
        )
    cleaned = clean_stale(home)
    if config.starts_server:
        check_port_free(config.host, config.server_port, "server")
    if config.includes(GATEWAY):
        check_port_free(config.host, config.gateway_port, "gateway")
    if config.auth:  # the server verifies against HOME's key; our reads are signed with it
        ensure_key_pair(home)
        serve_home(config.server_url, home)
    started = time.monotonic()
    daemon = spawn_daemon(home, config, None if detach else os.getpid())
    try:
        status = _wait_ready(home, daemon, started + timeout_s, timeout_s, config)
    except BaseException:
        _abort(home, daemon)
        raise
    return UpResult(daemon.pid, time.monotonic() - started, status, cleaned, daemon)


def check_server_choice(config: TopologyConfig, home: Home) -> TopologyConfig:
    """Fail before anything starts if the chosen server cannot be had; the config to run.

    The backend's preflight (``Backend.preflight``): ``resonate`` needs the
    binary on PATH; ``external`` needs the server to answer ``GET /health`` (a
    database: hold the resonate schema) now. Both are :class:`NotRunningError`
    (exit 3). ``postgres`` needs the schema file (:class:`UsageError`) and the
    server binaries; its config gets the cluster's URL and the absolute schema path.
    """
    prepared = config.backend.preflight(config, home)
    if (prepared.server_url, prepared.resonate_sql) == (config.server_url, config.resonate_sql):
        return config
    return replace(config, server_url=prepared.server_url, resonate_sql=prepared.resonate_sql)


def _wait_ready(
    home: Home, daemon: subprocess.Popen[bytes], deadline: float, timeout_s: float,
    config: TopologyConfig,
) -> TopologyStatus:
    client = SupervisorClient(home)
    status: TopologyStatus | None = None
    while True:
        if daemon.poll() is not None:
            raise NotRunningError(
                f"the supervisor exited with {daemon.returncode}: {_tail(home.supervisor_log)}"
            )
        with contextlib.suppress(NotRunningError):
            status = client.status(timeout_s=5.0)
        if status is not None:
            if status.all_ready:
                return status
            reason = _startup_failure(status) if config.app is None else \
                declared_failure(config.app, status.nodes, _tail)
            if reason:
                raise NotRunningError(reason)
        if time.monotonic() >= deadline:
            waiting = [n.name for n in (status.nodes if status else [])
                       if n.state != NodeState.READY]
            raise NotRunningError(
                f"the topology was not ready within {timeout_s:g}s; "
                f"not ready: {', '.join(waiting) or 'supervisor'} (logs under {home.logs_dir})"
            )
        time.sleep(0.05)


def _abort(home: Home, daemon: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(RpcdemoError):
        SupervisorClient(home).down(timeout_s=2.0)
    try:
        daemon.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(5)
    clean_stale(home)


def supervisor_pid(home: Home) -> int | None:
    try:
        return int(home.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


class StoppedJson(TypedDict):
    """``down --json``."""

    was_running: bool
    leftovers: int


@dataclass(frozen=True)
class Stopped:
    """What :func:`down` did: whether a supervisor ran, and the leftover processes it ended."""

    was_running: bool
    leftovers: int

    def to_dict(self) -> StoppedJson:
        """``down --json``."""
        return {"was_running": self.was_running, "leftovers": self.leftovers}


def down(home: Home, timeout_s: float = 30.0) -> Stopped:
    """Stop everything under ``home``; fine (and reported) if nothing was running.

    Asks the supervisor to shut down and waits for it to exit; then ends any
    leftover process of this HOME.
    """
    pid = supervisor_pid(home)
    was_running = True
    try:
        SupervisorClient(home).down(timeout_s=5.0)
    except NotRunningError:
        was_running = False
    if was_running and pid is not None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)
    leftovers = clean_stale(home) if home.root.is_dir() else 0
    return Stopped(was_running, leftovers)


def _pid_alive(pid: int) -> bool:
    try:
        return _alive(psutil.Process(pid))
    except psutil.Error:
        return False
