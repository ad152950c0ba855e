"""Helpers for the embedded server's e2e tests: server, workers and clients as real processes.

Every process gets ``RPCDEMO_HOME`` (the test's tmp dir) so :func:`assert_no_leftovers`
can find anything left behind. Workers and clients are the SDK's own
``Resonate(url=...)`` (``tests/e2e/server_workers``).
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from resonate_rpc_cli.clients.protocol import ResonateClient
from tests.procs import PYTHON, Proc, ProcGroup, free_port, processes_of_home, spawn, wait_until

WORKER = "tests.e2e.server_workers.worker"
CLIENT = "tests.e2e.server_workers.client"


def home_env(home: Path, **extra: str) -> dict[str, str]:
    return {"RPCDEMO_HOME": str(home.resolve()), **extra}


def start_server(
    procs: ProcGroup, home: Path, *flags: str, port: int | None = None, memory: bool = True,
    timeout: float = 15.0,
) -> tuple[str, Proc]:
    """Start ``python -m resonate_rpc_cli.server``; return its URL once ``/health`` answers."""
    port = port or free_port()
    store = ["--memory"] if memory else ["--store", str(home / "store.sqlite")]
    proc = procs.add(spawn(
        [PYTHON, "-m", "resonate_rpc_cli.server", "--port", str(port), *store, *flags],
        home / f"server-{port}.log", env=home_env(home), name="server",
    ))
    url = f"http://127.0.0.1:{port}"
    client = ResonateClient(url, timeout_s=1.0)
    wait_until(
        lambda: client.healthy() or (not proc.alive() and f"exited: {proc.output()[-800:]}"),
        timeout, f"server on {url}",
    )
    assert proc.alive(), proc.output()[-2000:]
    return url, proc


def start_worker(
    procs: ProcGroup, home: Path, url: str, groups: list[str], prefix: str, **env: str
) -> Proc:
    """A worker process serving ``groups`` as nodes ``<prefix>-<group>``; see worker.py."""
    return procs.add(spawn(
        [PYTHON, "-m", WORKER, url, ",".join(groups), prefix, str(home / "exec.jsonl")],
        home / f"worker-{prefix}.log", env=home_env(home, **env), name=prefix,
    ))


def info(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/rpcdemo/info", timeout=2) as resp:
        obj: dict[str, Any] = json.loads(resp.read())
    return obj


def wait_listeners(url: str, pids: dict[str, list[str]], timeout: float = 20.0) -> None:
    """Wait until every pid listed per group has a live SSE stream at the server."""
    def probe() -> bool:
        live = info(url)["listeners"]
        if not all(set(want) <= set(live.get(g, [])) for g, want in pids.items()):
            raise AssertionError(f"live listeners {live}")
        return True
    wait_until(probe, timeout, f"listeners {pids}")


def start_client(
    procs: ProcGroup, home: Path, url: str, func: str, group: str, calls: dict[str, int],
    wait: bool = True, name: str = "client",
) -> Proc:
    args = [f"{pid}={arg}" for pid, arg in calls.items()]
    return procs.add(spawn(
        [PYTHON, "-m", CLIENT, url, func, group, *args],
        home / f"{name}.log", env=home_env(home, WAIT="1" if wait else "0"), name=name,
    ))


def client_result(proc: Proc, timeout: float) -> dict[str, Any]:
    """Wait for a client to exit 0 and return the JSON line it printed."""
    def done() -> bool:
        if proc.alive():
            raise AssertionError(f"still running; output so far: {proc.output()[-400:]!r}")
        return True
    wait_until(done, timeout, f"client {proc.name} to finish", interval=0.05)
    out = proc.output()
    assert proc.popen.returncode == 0, out[-2000:]
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    assert lines, out[-2000:]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def executions(home: Path) -> list[dict[str, Any]]:
    """Every function-body execution the workers recorded, in order."""
    path = home / "exec.jsonl"
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def assert_no_leftovers(procs: ProcGroup, home: Path) -> None:
    """Stop everything the test started and check no process of ``home`` survives."""
    procs.close()
    wait_until(lambda: not processes_of_home(home), 5.0, f"no processes left for {home}")
