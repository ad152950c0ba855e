"""Test support for the topology: start a server, the gateway and service nodes; talk HTTP.

Every process gets ``RPCDEMO_HOME`` (so :func:`tests.procs.processes_of_home`
finds it) and ``RPCDEMO_PARENT_PID`` (so it dies with the test process). Nodes
are spawned together and then awaited through their ready files, so a whole
topology comes up in about the time of its slowest node.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from resonate_rpc_cli.contracts.ledger import LedgerEntry, read_ledger
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS
from tests.procs import PYTHON, Proc, ProcGroup, processes_of_home, spawn, start_server, wait_until

READY_TIMEOUT_S = 30.0


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block (``start_server`` inherits it)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@functools.cache
def _server_memory_flag() -> tuple[str, ...]:
    """``("--memory",)`` if the embedded server accepts it, else ``()``."""
    out = subprocess.run([PYTHON, "-m", "resonate_rpc_cli.server", "--help"],
                         capture_output=True, text=True, timeout=30, check=False)
    return ("--memory",) if "--memory" in out.stdout else ()


@dataclass
class NodeProc:
    """A gateway or service node started by a test."""

    name: str
    group: str
    proc: Proc
    ready_file: Path

    def ready(self) -> dict[str, Any] | None:
        try:
            obj = json.loads(self.ready_file.read_text())
        except (OSError, ValueError):
            return None
        return obj if isinstance(obj, dict) else None


@dataclass
class Topology:
    """A running server plus nodes under one HOME."""

    home: Path
    url: str
    procs: ProcGroup
    server: Proc
    nodes: dict[str, NodeProc] = field(default_factory=dict)

    @property
    def ledger_dir(self) -> Path:
        return self.home / "ledger"

    def ledger(self) -> list[LedgerEntry]:
        return list(read_ledger(self.ledger_dir))

    @property
    def gateway_url(self) -> str:
        info = self.nodes["gateway"].ready()
        assert info is not None, "gateway not ready"
        return str(info["url"])

    def node_env(self, name: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            "RPCDEMO_HOME": str(self.home.resolve()),
            "RPCDEMO_PARENT_PID": str(os.getpid()),
            "RESONATE_URL": self.url,
            "RPCDEMO_NODE_NAME": name,
            "RPCDEMO_LEDGER_DIR": str(self.ledger_dir),
            "RPCDEMO_READY_FILE": str(self.home / "run" / f"{name}.ready"),
        }
        env.update(extra or {})
        return env

    def spawn_node(self, name: str, group: str, extra: Mapping[str, str] | None = None) -> NodeProc:
        """Start one node (``group`` ``gateway`` or a service group); do not wait."""
        module = "services.gateway" if group == "gateway" else SERVICE_GROUPS[group]
        env = self.node_env(name, {"RPCDEMO_GATEWAY_PORT": "0", **(extra or {})})
        proc = self.procs.add(spawn([PYTHON, "-m", module], self.home / "logs" / f"{name}.log",
                                    env=env, name=name))
        node = NodeProc(name, group, proc, Path(env["RPCDEMO_READY_FILE"]))
        self.nodes[name] = node
        return node

    def wait_ready(self, nodes: Iterable[NodeProc], timeout: float = READY_TIMEOUT_S) -> None:
        """Wait for every ready file; fail at once, with its output, if a node exits."""
        pending = list(nodes)
        missing: list[str] = []

        def probe() -> bool | str:
            for n in pending:
                if not n.proc.alive():
                    return f"{n.name} exited {n.proc.popen.returncode}: {n.proc.output()[-800:]}"
            missing[:] = [n.name for n in pending if n.ready() is None]
            return not missing

        try:
            result = wait_until(probe, timeout, "nodes ready")
        except AssertionError:
            raise AssertionError(f"nodes not ready after {timeout}s: {missing}") from None
        assert result is True, result

    def start_nodes(self, specs: Mapping[str, tuple[str, Mapping[str, str]]]) -> list[NodeProc]:
        """Start ``{name: (group, extra_env)}`` together and wait until all are ready."""
        nodes = [self.spawn_node(name, group, env) for name, (group, env) in specs.items()]
        self.wait_ready(nodes)
        return nodes


def start_topology(
    procs: ProcGroup, home: Path,
    specs: Mapping[str, tuple[str, Mapping[str, str]]] | None = None,
    server_args: Iterable[str] = (),
) -> Topology:
    """Start an in-memory embedded server, then ``specs`` nodes; return once all are ready."""
    home.mkdir(parents=True, exist_ok=True)
    with patched_environ({"RPCDEMO_HOME": str(home.resolve()),
                          "RPCDEMO_PARENT_PID": str(os.getpid())}):
        url, server = start_server(procs, home, *_server_memory_flag(), *server_args)
    topo = Topology(home=home, url=url, procs=procs, server=server)
    if specs:
        topo.start_nodes(specs)
    return topo


def all_nine(extra: Mapping[str, Mapping[str, str]] | None = None
             ) -> dict[str, tuple[str, Mapping[str, str]]]:
    """Specs for the gateway and one node per service group (``extra`` env by group)."""
    extra = extra or {}
    specs: dict[str, tuple[str, Mapping[str, str]]] = {"gateway": ("gateway", {})}
    for group in SERVICE_GROUPS:
        specs[f"{group}-1"] = (group, extra.get(group, {}))
    return specs


def http(method: str, url: str, body: Any = None, raw: bytes | None = None,
         timeout: float = 30.0) -> tuple[int, Any]:
    """One HTTP request; return ``(status, parsed JSON or the text if not JSON)``."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, payload = int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        with exc:  # closes the error's response and its socket
            status, payload = exc.code, exc.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


def executions(entries: Iterable[LedgerEntry], func: str, promise_prefix: str,
               phase: str = "end") -> list[LedgerEntry]:
    """Ledger lines of ``func`` in ``phase`` whose promise id is or extends ``promise_prefix``."""
    return [e for e in entries if e.func == func and e.phase == phase
            and (e.promise_id == promise_prefix or e.promise_id.startswith(promise_prefix + ":"))]


def assert_nothing_left(home: Path, timeout: float = 10.0) -> None:
    """Every process of ``home`` is gone (polling: a stopped group may take a moment)."""
    last: list[str] = []

    def probe() -> bool:
        last[:] = [_describe(p) for p in processes_of_home(home)]
        return not last

    try:
        wait_until(probe, timeout, f"no processes of {home}", interval=0.1)
    except AssertionError:
        raise AssertionError(f"processes left behind for {home}: {last}") from None


def _describe(proc: psutil.Process) -> str:
    try:
        return f"{proc.pid} {' '.join(proc.cmdline())}"
    except psutil.Error:
        return str(proc.pid)
