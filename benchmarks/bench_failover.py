"""Benchmark: kill -9 of a node mid-step, respawned at once: time to flow completion.

    python benchmarks/bench_failover.py [--runs 3] [--before-runs 1] [--ttl 30] [--delay 2]
                                        [--server embedded,postgres]

Each mode gets its own topology (fresh HOME under /tmp, free ports, the real
CLI, `up --ttl TTL --delay service-b=DELAY`, `work` delay mode). Each run
starts an await chain with a fresh id and a unique arg, waits until service-b's
ledger shows `bar`'s step started and not ended, then runs
`rpcdemo kill service-b --respawn`. Times come from the supervisor's event feed
(`killed`, the new incarnation's `ready`) and the moment the gateway answered.

* before: `RPCDEMO_NO_FAILOVER=1` — the dead node's lease must lapse (TTL).
* after: the supervisor releases the dead node's leases (the embedded server's
  extra; on resonate-pg ``task.release`` of the tasks the dead node id holds).

``--server postgres`` runs the same on ``up --server postgres`` (needs
``RPCDEMO_RESONATE_SQL``, resonate-pg's schema file); the default is ``embedded``.

Target: ready -> done within 1 s plus the step's own re-done work (DELAY).
Prints a table per run, a summary and a JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ledger import read_ledger
from resonate_rpc_cli.supervisor.client import SupervisorClient
from resonate_rpc_cli.supervisor.events import EventJson


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Topology:
    home: Path
    gateway_url: str
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 120) -> str:
        argv = [sys.executable, "-m", "resonate_rpc_cli", "--home", str(self.home), *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL, env=self.env)
        if proc.returncode != 0:
            raise SystemExit(f"rpcdemo {' '.join(args)} failed ({proc.returncode}): "
                             f"{proc.stderr.strip()}")
        return proc.stdout

    def events(self) -> list[EventJson]:
        """The supervisor's events, through its control socket (ms; `status --json` reads
        the server too and takes seconds on a loaded machine)."""
        return [e.to_dict() for e in SupervisorClient(Home(self.home)).status().events]


class KilledTooLate(Exception):
    """The kill missed the step (a slow CLI on a loaded machine); the run is retried."""


@dataclass
class Run:
    mode: str
    kill_to_ready_s: float
    kill_to_done_s: float
    ready_to_done_s: float
    released: str


def start_flow(gateway_url: str, flow_id: str, arg: int, wait_s: float,
               done: dict[str, Any]) -> threading.Thread:
    """POST the await chain in a thread; ``done`` gets the answer and its wall time."""
    def post() -> None:
        body = json.dumps({"id": flow_id, "arg": arg, "timeout": wait_s}).encode()
        req = urllib.request.Request(gateway_url + "/await-chain", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=wait_s + 10) as resp:
                done["answer"] = json.loads(resp.read())
        except Exception as exc:  # reported in the run's failure message
            done["error"] = repr(exc)
        done["ts"] = time.time()

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def bar_in_progress(home: Path, arg: int) -> bool:
    """Whether service-b's ledger shows `bar(arg)` started and not ended."""
    started = ended = False
    for entry in read_ledger(home / "ledger"):
        if entry.func == "bar" and entry.arg == arg:
            started |= entry.phase == "start"
            ended |= entry.phase == "end"
    return started and not ended


def wait_for(probe: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def one_run(topo: Topology, mode: str, arg: int, ttl: float) -> Run:
    done: dict[str, Any] = {}
    thread = start_flow(topo.gateway_url, f"bench-failover-{mode}-{arg}-{os.getpid()}", arg,
                        ttl * 4 + 30, done)
    wait_for(lambda: bar_in_progress(topo.home, arg), 30, f"bar({arg}) to start")
    seen = max((e["seq"] for e in topo.events()), default=0)
    topo.cli("kill", "service-b", "--respawn")  # the real CLI, as an operator would
    thread.join(ttl * 4 + 60)
    if "answer" not in done:
        raise SystemExit(f"{mode} run arg={arg}: the flow did not complete: {done}")
    starts = [e for e in read_ledger(topo.home / "ledger")
              if e.func == "bar" and e.arg == arg and e.phase == "start"]
    if len(starts) < 2:
        raise KilledTooLate(f"bar({arg}) ran once: the kill came after its step had ended")
    events = [e for e in topo.events() if e["seq"] > seen]
    killed = next(e for e in events if e["kind"] == "killed" and e["node"] == "service-b-1")
    ready = next(e for e in events if e["kind"] == "ready" and e["node"] == "service-b-1"
                 and e["seq"] > killed["seq"])
    released = next((e["detail"] for e in events if e["kind"] == "released"), "-")
    return Run(mode, ready["ts"] - killed["ts"], done["ts"] - killed["ts"],
               done["ts"] - ready["ts"], released)


def server_args(server: str, root: Path) -> list[str]:
    """``up`` flags of ``server``: the embedded one in memory, or resonate-pg under HOME."""
    if server == "embedded":
        return ["--memory"]
    sql = os.environ.get("RPCDEMO_RESONATE_SQL", "").strip()
    if not sql:
        raise SystemExit("bench_failover: --server postgres needs RPCDEMO_RESONATE_SQL "
                         "(resonate.sql from github.com/resonatehq/resonate-pg)")
    if os.geteuid() == 0:
        os.chmod(root, 0o711)  # the cluster runs as the postgres user
    return ["--server", "postgres", "--resonate-sql", sql, "--timeout", "240"]


def run_mode(mode: str, runs: int, ttl: float, delay: float, server: str = "embedded"
             ) -> list[Run]:
    root = Path(tempfile.mkdtemp(prefix="rpcf-"))
    env = dict(os.environ)
    env.pop("RPCDEMO_NO_FAILOVER", None)
    if mode == "before":
        env["RPCDEMO_NO_FAILOVER"] = "1"
    gateway_port = free_port()
    topo = Topology(root / "home", f"http://127.0.0.1:{gateway_port}", env)
    try:
        topo.cli("up", "--detach", *server_args(server, root), "--server-port", str(free_port()),
                 "--gateway-port", str(gateway_port), "--ttl", repr(ttl),
                 "--delay", f"service-b={delay!r}", "--delay-mode", "work")
        results: list[Run] = []
        arg = 100
        while len(results) < runs:
            arg += 1
            i = len(results)
            try:
                result = one_run(topo, mode, arg, ttl)
            except KilledTooLate as exc:
                if arg > 100 + 3 * runs:
                    raise SystemExit(f"{mode}: too many missed kills; use a longer "
                                     "--delay") from exc
                print(f"{mode:<6} run {i + 1}: {exc}; again", flush=True)
                continue
            results.append(result)
            print(f"{server:<8} {mode:<6} run {i + 1}: "
                  f"kill->ready {result.kill_to_ready_s * 1000:7.0f} ms"
                  f"   kill->done {result.kill_to_done_s:6.2f} s"
                  f"   ready->done {result.ready_to_done_s:6.2f} s   release: {result.released}",
                  flush=True)
        return results
    finally:
        subprocess.run([sys.executable, "-m", "resonate_rpc_cli", "--home", str(topo.home),
                        "down"], capture_output=True, check=False, timeout=60, env=env)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs with failover (after)")
    parser.add_argument("--before-runs", type=int, default=1, help="runs without failover")
    parser.add_argument("--ttl", type=float, default=30.0, help="lease TTL, seconds")
    parser.add_argument("--delay", type=float, default=2.0, help="bar's step, seconds")
    parser.add_argument("--server", default="embedded",
                        help="comma-separated: embedded (default), postgres (resonate-pg)")
    args = parser.parse_args()
    servers = [x.strip() for x in args.server.split(",") if x.strip()]
    if not servers or set(servers) - {"embedded", "postgres"}:
        raise SystemExit("bench_failover: --server takes embedded, postgres or both")
    print(f"TTL {args.ttl:g} s, bar's step {args.delay:g} s (work mode, re-done after a kill)")
    summary: dict[str, Any] = {"ttl_s": args.ttl, "step_s": args.delay}
    for server in servers:
        summary[server] = measure(server, args)
    print()
    print(f"{'server':<10}{'mode':<8}{'runs':>5}{'kill->done p50':>17}{'ready->done p50':>18}"
          f"{'max(ready->done) - step':>26}")
    for server in servers:
        for mode in ("before", "after"):
            if mode in summary[server]:
                s = summary[server][mode]
                print(f"{server:<10}{mode:<8}{s['runs']:>5}{s['kill_to_done_p50_s']:>16.2f}s"
                      f"{s['ready_to_done_p50_s']:>17.2f}s"
                      f"{s['ready_to_done_minus_step_max_s']:>25.2f}s")
        if "after" in summary[server]:
            ok = summary[server]["after"]["ready_to_done_minus_step_max_s"] < 1.0
            print(f"{server}: target (ready->done within 1 s + the step): "
                  f"{'met' if ok else 'MISSED'}")
    print(json.dumps(summary))


def measure(server: str, args: argparse.Namespace) -> dict[str, Any]:
    """Before and after runs on ``server``; their figures by mode."""
    summary: dict[str, Any] = {}
    for mode, runs in (("before", args.before_runs), ("after", args.runs)):
        if runs <= 0:
            continue
        results = run_mode(mode, runs, args.ttl, args.delay, server)
        summary[mode] = {
            "runs": runs,
            "kill_to_done_p50_s": round(statistics.median(r.kill_to_done_s for r in results), 3),
            "ready_to_done_p50_s": round(statistics.median(r.ready_to_done_s for r in results),
                                         3),
            "ready_to_done_minus_step_max_s": round(
                max(r.ready_to_done_s for r in results) - args.delay, 3),
        }
    return summary


if __name__ == "__main__":
    main()
