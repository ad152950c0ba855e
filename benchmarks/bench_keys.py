"""Benchmark: a key in the live view against a command typed in a second terminal.

    python benchmarks/bench_keys.py [--rounds 7]

Starts one topology with the real CLI (``rpcdemo up --detach --links``, four nodes and
the server, fresh HOME under /tmp, free ports) and a live view model in this process,
as ``rpcdemo up``/``watch`` hold it. Each round, for pause, resume and a partition plus
its heal of service-c-1, measures the time from the key (``LiveModel.press``, the action
on its own thread as in the view) until a refresh of the model shows the effect, and,
in the same round, the time from starting the equivalent command (``rpcdemo kill
service-c-1 --signal STOP|CONT``, ``rpcdemo net partition|heal service-c-1``) as a new
process until the same model shows it. Both are read by one model polled every 20 ms,
so the difference is the command's start. Kill with respawn is measured the same way
(until the new incarnation is ``ready``).

Target (issue 20): the effect on screen within a second of the key. Prints a table of
medians and a JSON summary last; ends with ``rpcdemo down``. The code measured is the
one ``sys.executable`` imports.
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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.live import LiveModel

TARGET_S = 1.0
CLI = [sys.executable, "-m", "resonate_rpc_cli"]
NODE = "service-c-1"
#: action -> (key, the command a person would type, what the model shows once done)
CASES: dict[str, tuple[str, list[str], Callable[[LiveModel], bool]]] = {}


def _state(want: str) -> Callable[[LiveModel], bool]:
    return lambda m: any(n.name == NODE and n.state == want for n in m.nodes)


def _link(want: str) -> Callable[[LiveModel], bool]:
    return lambda m: any(link.node == NODE and link.state == want for link in m.links or [])


def _respawned(model: LiveModel) -> Callable[[LiveModel], bool]:
    """Shown once the node is ready again under another pid than it has now."""
    old = next(n.pid for n in model.nodes if n.name == NODE)
    return lambda m: any(n.name == NODE and n.state == "ready" and n.pid != old
                         for n in m.nodes)


CASES.update({
    "pause": ("p", ["kill", NODE, "--signal", "STOP"], _state("paused")),
    "resume": ("p", ["kill", NODE, "--signal", "CONT"], _state("ready")),
    "partition": ("n", ["net", "partition", NODE], _link("partitioned")),
    "heal link": ("n", ["net", "heal", NODE], _link("ok")),
})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(model: LiveModel, shown: Callable[[LiveModel], bool], started: float,
          timeout_s: float = 30.0) -> float:
    """Refresh ``model`` every 20 ms (every poll due at once) until ``shown``; seconds
    since ``started``."""
    while time.monotonic() - started < timeout_s:
        for every in (model.node_every, model.promise_every):
            every.last = float("-inf")
        model.refresh()
        if shown(model) and not model.controls.running:
            return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit(f"not shown within {timeout_s}s")


def by_key(model: LiveModel, key: str, shown: Callable[[LiveModel], bool]) -> float:
    started = time.monotonic()
    model.press(key)
    took = until(model, shown, started)
    last = model.controls.last
    if last is None or not last.ok:
        raise SystemExit(f"the key {key!r} failed: {last}")
    return took


def by_command(model: LiveModel, home: Path, argv: list[str],
               shown: Callable[[LiveModel], bool]) -> float:
    started = time.monotonic()
    subprocess.run([*CLI, "--home", str(home), *argv], check=True, capture_output=True,
                   timeout=60)
    return until(model, shown, started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rpcd-keys-"))
    home = root / "home"
    load_before = os.getloadavg()[0]
    up = [*CLI, "--home", str(home), "up", "--detach", "--links", "--only",
          "gateway,service-a,service-b,service-c", "--server-port", str(free_port()),
          "--gateway-port", str(free_port())]
    subprocess.run(up, check=True, capture_output=True, timeout=120)
    samples: dict[str, dict[str, list[float]]] = {}
    try:
        model = LiveModel(Home(home))
        model.controls.interactive = True
        model.refresh()
        while model.controls.selected != f"node:{NODE}":
            model.press("j")
        for r in range(args.rounds):
            # a cycle by keys and one by commands (pause, resume, partition, heal: each
            # leaves the node as the next expects), the commands first on even rounds
            for how in (("command", "key") if r % 2 == 0 else ("key", "command")):
                for name, (key, argv, shown) in CASES.items():
                    took = by_key(model, key, shown) if how == "key" else \
                        by_command(model, home, argv, shown)
                    samples.setdefault(name, {}).setdefault(how, []).append(took)
            kills = samples.setdefault("kill+respawn", {})
            kills.setdefault("key", []).append(by_key(model, "X", _respawned(model)))
            kills.setdefault("command", []).append(by_command(
                model, home, ["kill", NODE, "--respawn"], _respawned(model)))
            print(f"round {r + 1}: " + ", ".join(
                f"{n} key {xs['key'][-1] * 1000:.0f} ms / command "
                f"{xs['command'][-1] * 1000:.0f} ms" for n, xs in samples.items()), flush=True)
    finally:
        subprocess.run([*CLI, "--home", str(home), "down"], capture_output=True, timeout=60,
                       check=False)
        shutil.rmtree(root, ignore_errors=True)
    _report(samples, load_before, args.rounds)


def _report(samples: dict[str, dict[str, list[float]]], load_before: float,
            rounds: int) -> None:
    print(f"load average (1 min) at start {load_before:.2f}, at end "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"\n{'action':<14} {'key p50 ms':>11} {'key max ms':>11} {'command p50 ms':>15} "
          f"{'target ms':>10}")
    summary: dict[str, Any] = {"rounds": rounds, "target_ms": TARGET_S * 1000}
    for name, xs in samples.items():
        key50, keymax = statistics.median(xs["key"]), max(xs["key"])
        cmd50 = statistics.median(xs["command"])
        print(f"{name:<14} {key50 * 1000:>11.0f} {keymax * 1000:>11.0f} {cmd50 * 1000:>15.0f} "
              f"{TARGET_S * 1000:>10.0f}")
        summary[name] = {"key_p50_ms": round(key50 * 1000), "key_max_ms": round(keymax * 1000),
                         "command_p50_ms": round(cmd50 * 1000)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
