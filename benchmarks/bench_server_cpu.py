"""The embedded server's CPU per request, in-process: ``python benchmarks/bench_server_cpu.py``.

Replays the requests of ``bench_server.py``'s SDK flows (``data/sdk-flows-trace.jsonl.gz``:
the 2,437 envelopes the durable server received for 60 await chains and 60 fan-outs
plus warm-ups, captured at ``POST /``; their ``timeoutAt`` moved to a day from now)
through the server's request path on a fresh durable store: JSON decode and unwrap,
``Engine.serve`` as the server calls it (validation, the state machine, the census, and
the response in the wire's shape; a checkout from before ``serve``: ``Engine.apply``,
its response shaped by ``server/wire.py`` in the ``wire`` segment), the commit (rows
encoded and written), and the response encoded (with the pushed messages shaped and
encoded). Each segment is timed with the thread's own CPU clock, so other
processes on the machine inflate it far less than wall time; the clock's own cost
(~1.5 µs a reading here) is included.

``--baseline PATH`` replays the same requests on another checkout's server (e.g.
``/work/main``) in the same run, rounds alternating, and prints both (the medians per
segment, and ``best``: the lowest total of one replay, the steadier figure when other
processes share the machine); ``--memory``
uses a memory engine. The HTTP layer (aiohttp) is not in these figures:
``bench_server.py`` prints the whole server process's CPU per request beside them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TRACE = HERE / "data" / "sdk-flows-trace.jsonl.gz"
SEGMENTS = ("decode", "apply", "commit", "wire")


def shifted(trace: list[bytes]) -> list[bytes]:
    """The trace with every ``timeoutAt`` moved so the earliest is a day from now."""
    objs = [json.loads(line) for line in trace]
    stamps: list[int] = []

    def walk(obj: Any, delta: int | None) -> None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key == "timeoutAt" and isinstance(value, int):
                    if delta is None:
                        stamps.append(value)
                    else:
                        obj[key] = value + delta
                else:
                    walk(value, delta)
        elif isinstance(obj, list):
            for item in obj:
                walk(item, delta)

    walk(objs, None)
    delta = int(time.time() * 1000) + 86_400_000 - min(stamps)
    walk(objs, delta)
    return [json.dumps(o, separators=(",", ":")).encode() for o in objs]


def replay(trace_path: str, durable: bool) -> dict[str, float]:
    """µs of thread CPU per request and segment, replaying the trace once on a fresh engine."""
    import msgspec  # noqa: PLC0415  # the checkout under test (PYTHONPATH) is imported here
    from resonate.connections.local import unwrap_request_envelope  # noqa: PLC0415

    from resonate_rpc_cli.server import wire  # noqa: PLC0415
    from resonate_rpc_cli.server.engine import Engine  # noqa: PLC0415
    from resonate_rpc_cli.server.store import Store  # noqa: PLC0415

    lines = Path(trace_path).read_bytes().splitlines()
    enc = msgspec.json.Encoder()
    clock = time.thread_time
    totals = dict.fromkeys(SEGMENTS, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(Store.open(Path(tmp) / "s.sqlite")) if durable else Engine()
        while not engine.load_step():
            pass
        serve = getattr(engine, "serve", None)
        for line in lines:
            t0 = clock()
            flat = unwrap_request_envelope(msgspec.json.decode(line))
            t1 = clock()
            if serve is not None:  # the response made in the wire's shape (as app.py serves)
                wrapped, outgoing = serve(flat, None, True)
            else:  # a checkout from before Engine.serve: apply, then wire.envelope below
                resp, outgoing = engine.apply(flat, defer_commit=True)
            t2 = clock()
            if engine.uncommitted:
                engine.commit()
            t3 = clock()
            for msg in outgoing:
                enc.encode(wire.message(msg.message, "http://127.0.0.1:8001"))
            if serve is None:
                action = flat.get("action")
                wrapped = wire.envelope(resp, action.get("kind") if isinstance(action, dict)
                                        else None)
            enc.encode(wrapped)
            t4 = clock()
            for seg, took in zip(SEGMENTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                totals[seg] += took
        engine.close()
    return {seg: v / len(lines) * 1e6 for seg, v in totals.items()}


def run_checkout(checkout: Path, trace_path: Path, durable: bool) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "_replay", str(trace_path),
         "durable" if durable else "memory"],
        env=env, cwd=checkout, capture_output=True, check=True, timeout=600)
    result: dict[str, float] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_replay":
        print(json.dumps(replay(sys.argv[2], sys.argv[3] == "durable")))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="another checkout to replay beside this one")
    ap.add_argument("--rounds", type=int, default=3, help="replays per checkout (default 3)")
    ap.add_argument("--memory", action="store_true", help="a memory engine (default durable)")
    args = ap.parse_args()
    checkouts = {"this": HERE.parent}
    if args.baseline is not None:
        checkouts = {"baseline": args.baseline.resolve(), **checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        trace_path = Path(tmp) / "trace.jsonl"
        trace = shifted(gzip.decompress(TRACE.read_bytes()).splitlines())
        trace_path.write_bytes(b"\n".join(trace))
        got: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
        for _ in range(args.rounds):
            for name, checkout in checkouts.items():
                got[name].append(run_checkout(checkout, trace_path, not args.memory))
    mode = "memory" if args.memory else "durable"
    print(f"\nserver CPU per request, {mode}, {len(trace)} requests of the SDK flows, "
          f"median of {args.rounds} replays (thread CPU, us); load {os.getloadavg()[0]:.1f}")
    print(f"{'checkout':<10}" + "".join(f"{s:>9}" for s in SEGMENTS) + f"{'total':>9}"
          + f"{'best':>7}")
    for name, rounds in got.items():
        med = {s: statistics.median(r[s] for r in rounds) for s in SEGMENTS}
        best = min(sum(r.values()) for r in rounds)  # the least disturbed replay (busy machine)
        print(f"{name:<10}" + "".join(f"{med[s]:>9.1f}" for s in SEGMENTS)
              + f"{sum(med.values()):>9.1f}{best:>7.1f}   ({checkouts[name]})")


if __name__ == "__main__":
    main()
