"""Benchmark: how fast the browser console (`rpcdemo ui`) draws the seed topology.

    python benchmarks/bench_console.py [--rounds 5] [--promises 500]

Starts the seed topology (`up --detach`: eleven nodes, fresh HOME under /tmp,
free ports), runs each of the three flows once under its seed id so three call
graphs exist, starts `rpcdemo ui`, and opens the page in headless Chromium
(the DevTools protocol driver of the tests, tests/cdp.py) ``--rounds`` times,
each in a fresh tab:

* **open → 11 nodes and 3 graphs**: from the navigation until the page shows
  every node and the three flows' graphs (target: within 2 s);
* **the same with N promises in the store**: after ``--promises`` more
  pending promises (five call trees, so the pending search, the task map and
  the "recent roots" all see them) — target: under 1 s;
* **baseline**, measured in the same run and browser: open the console's own
  ``/api/state`` JSON (same server, same token, nothing to draw) until its body
  is there — what any page costs here before it draws anything;
* **click kill+respawn → the new pid shown** on service-a-1 (the effect of an
  action within a second).

Medians of the rounds; the samples with ``--raw``. Ends with `rpcdemo down`
and a check that nothing of the HOME is left running.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts import tags as tag
from tests.cdp import Page
from tests.e2e._console_support import console_of
from tests.procs import free_port

DRAWN = ("document.body.dataset.nodes == 11 && document.querySelectorAll("
         "'.flow[data-root=\"await-chain\"], .flow[data-root=\"detached-chain\"], "
         ".flow[data-root=\"fan-out-workflow\"]').length == 3")


def rpcdemo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "resonate_rpc_cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"rpcdemo {' '.join(args)} failed ({proc.returncode}): "
                         f"{proc.stderr.strip()}")
    return proc


def time_until(page: Page, url: str, expression: str, timeout: float = 20.0) -> float:
    """Seconds from navigating to ``url`` until ``expression`` holds (polled every 10 ms)."""
    t0 = time.perf_counter()
    page.goto(url)
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        try:
            if page.eval(expression):
                return time.perf_counter() - t0
        except Exception:  # the page is between documents: poll again
            pass
        time.sleep(0.01)
    raise SystemExit(f"not drawn within {timeout}s: {expression}")


def open_rounds(url: str, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """(wall draw times, the page's own, baseline times), a fresh tab each round."""
    drawn, own, baseline = [], [], []
    for _ in range(rounds):
        with Page() as page:
            drawn.append(time_until(page, url, DRAWN))
            # navigation start -> the first frame, by the page's clock (no polling in it)
            first = page.eval("[Number(document.body.dataset.firstDrawnMs), "
                              "Number(document.body.dataset.firstFlows)]")
            own.append(first[0] / 1000 if first[1] >= 3 else drawn[-1])
            state = url.replace("/?", "/api/state?")
            baseline.append(time_until(page, state, "document.body && "
                                       "document.body.textContent.startsWith('{\"state\"')"))
            assert not page.blocked, page.blocked
    return drawn, own, baseline


def fill_store(server_url: str, count: int) -> None:
    """``count`` pending promises in five call trees (root + children tagged with it)."""
    client = ResonateClient(server_url)
    stamp = time.time_ns()
    far = int(time.time() * 1000) + 3_600_000
    for n in range(count):
        root = f"bench-{stamp}-{n % 5}"
        pid = root if n < 5 else f"{root}:{n}"
        tags = {tag.ORIGIN: root} if pid == root else {tag.ORIGIN: root, tag.PARENT: root}
        client.request("promise.create", {"id": pid, "param": {}, "tags": tags,
                                          "timeoutAt": far})


def kill_to_shown(url: str, rounds: int) -> list[float]:
    out = []
    with Page() as page:
        page.goto(url)
        page.wait_for(DRAWN, 20, "the page drawn")
        for _ in range(rounds):
            old = page.eval("document.querySelector('tr[data-node=service-a-1]').dataset.pid")
            t0 = time.perf_counter()
            page.click("tr[data-node=service-a-1] button[data-action=kill-respawn]")
            page.wait_for(f"(() => {{ const r = document.querySelector("
                          f"'tr[data-node=service-a-1]'); return r.dataset.pid && "
                          f"r.dataset.pid !== '{old}' && r.dataset.state === 'ready'; }})()",
                          20, "the new incarnation shown")
            out.append(time.perf_counter() - t0)
    return out


def fmt(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--promises", type=int, default=500)
    parser.add_argument("--raw", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rpcb-", dir="/tmp"))
    server_port = free_port()
    try:
        rpcdemo(home, "up", "--detach", "--server-port", str(server_port),
                "--gateway-port", str(free_port()))
        for flow in ("await-chain", "detached-chain", "fan-out"):
            rpcdemo(home, "run", flow)
        with console_of(home) as console:
            drawn, own, base = open_rounds(console.url, args.rounds)
            fill_store(f"http://127.0.0.1:{server_port}", args.promises)
            time.sleep(2.0)  # the console's next promise poll sees them
            full, own_full, base_full = open_rounds(console.url, args.rounds)
            actions = kill_to_shown(console.url, args.rounds)
    finally:
        subprocess.run([sys.executable, "-m", "resonate_rpc_cli", "--home", str(home), "down"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(home, ignore_errors=True)
    rows = [
        ("open -> 11 nodes + 3 graphs (page clock)", own, "< 2000 ms",
         statistics.median(own) < 2.0),
        ("  the same, wall (polled over CDP)", drawn, "", None),
        (f"with {args.promises} more promises (page)", own_full, "< 1000 ms",
         statistics.median(own_full) < 1.0),
        (f"  the same, wall ({args.promises} more)", full, "", None),
        ("baseline: /api/state, wall (no drawing)", base, "", None),
        (f"baseline, {args.promises} more promises", base_full, "", None),
        ("kill+respawn click -> new pid shown", actions, "", None),
    ]
    print(f"{'what':44} {'median':>10}  target     met")
    for what, samples, target, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"{what:44} {fmt(samples)}  {target:10} {mark}")
        if args.raw:
            print("   ", " ".join(f"{s * 1000:.0f}" for s in samples))
    print(json.dumps({what: round(statistics.median(s) * 1000) for what, s, _t, _m in rows}))


if __name__ == "__main__":
    main()
