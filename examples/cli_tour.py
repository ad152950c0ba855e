"""A tour of the operator CLI that checks every answer (runs in CI, under ~30 s).

    python examples/cli_tour.py [--home DIR]

Brings a topology up in the background on free ports, runs each flow and
compares its value with the flows' oracle, kills service-b while an await
chain is inside its step and respawns it, checks `status --json`, then brings
everything down and checks that no process of this HOME is left. Exits 1 on
any wrong answer, with the reason on stderr. No shell is used anywhere.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from resonate_rpc_cli.contracts.flows import expected_value, flow_named


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tour:
    def __init__(self, home: Path) -> None:
        self.home = home

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "resonate_rpc_cli", "--home", str(self.home), *args]

    def rpcdemo(self, *args: str) -> Any:
        """Run one command with --json; its parsed output, or exit 1 if it failed."""
        proc = subprocess.run(self.argv(*args, "--json"), capture_output=True, text=True,
                              timeout=90, check=False, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            fail(f"`rpcdemo {' '.join(args)}` exited {proc.returncode}: {proc.stderr.strip()}")
        print(f"$ rpcdemo {' '.join(args)}", flush=True)
        return json.loads(proc.stdout)

    def check_flow(self, name: str, arg: int, *extra: str) -> None:
        doc = self.rpcdemo("run", name, "--arg", str(arg), *extra)
        flow = flow_named(name)
        # the detached chain's answer is what cog computes at its tail
        want = flow.expected(arg) if flow.awaited else expected_value(
            "cog", flow.step_args(arg)["cog"])
        if doc["state"] != "resolved" or doc["result"] != want:
            fail(f"{name}({arg}): wanted {want}, got {doc}")
        print(f"  {name}({arg}) = {doc['result']} in {doc['elapsed_ms']} ms", flush=True)


def fail(message: str) -> None:
    print(f"cli_tour: FAILED: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def tour(home: Path) -> None:
    t = Tour(home)
    up = t.rpcdemo("up", "--detach", "--server-port", str(free_port()),
                   "--gateway-port", str(free_port()), "--ttl", "2", "--delay", "service-b=2")
    print(f"  {len(up['nodes'])} nodes ready in {up['elapsed_s']:.1f}s", flush=True)
    t.check_flow("fan-out", 3)
    t.check_flow("detached-chain", 5, "--wait")
    t.check_flow("await-chain", 1)

    # kill service-b while a fresh await chain is inside its (2 s) step, respawn it
    run = subprocess.Popen(t.argv("run", "await-chain", "--fresh", "--arg", "10", "--json"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not any(n["name"] == "service-b-1" and n["task"]
                  for n in t.rpcdemo("status")["nodes"]):
        if time.monotonic() > deadline:
            run.kill()
            fail("service-b-1 never took the await chain's bar step")
        time.sleep(0.1)
    kill = t.rpcdemo("kill", "service-b", "--respawn")
    print(f"  killed {kill['killed']}, respawned {kill['respawned']}", flush=True)
    out, err = run.communicate(timeout=60)
    if run.returncode != 0:
        fail(f"await chain across the kill exited {run.returncode}: {err.strip()}")
    doc = json.loads(out)
    if doc["result"] != 12:
        fail(f"await chain across the kill: wanted 12, got {doc}")
    print(f"  await-chain(10) across the kill = 12 in {doc['elapsed_ms']} ms", flush=True)

    status = t.rpcdemo("status")
    if set(status) < {"server", "nodes", "promises"}:
        fail(f"status --json lacks keys: {sorted(status)}")
    b = next(n for n in status["nodes"] if n["name"] == "service-b-1")
    if b["restarts"] != 1 or b["state"] != "ready":
        fail(f"service-b-1 after one respawn: {b}")
    down = t.rpcdemo("down")
    if not down["was_running"]:
        fail("down found nothing running")


def main() -> None:
    parser = argparse.ArgumentParser(description="Drive rpcdemo end to end, checking answers.")
    parser.add_argument("--home", type=Path, help="HOME to use [default: a temporary one]")
    args = parser.parse_args()
    root = None if args.home else Path(tempfile.mkdtemp(prefix="rpct-"))
    home: Path = args.home if root is None else root / "home"
    started = time.monotonic()
    try:
        tour(home)
    finally:
        subprocess.run([sys.executable, "-m", "resonate_rpc_cli", "--home", str(home), "down"],
                       capture_output=True, timeout=60, check=False)
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"cli_tour: OK in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
