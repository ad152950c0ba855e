"""Benchmark: wall time of the everyday CLI commands against a running topology.

    python benchmarks/bench_cli.py [--runs 7] [--raw]

Starts one topology (`up --detach`, fresh HOME under /tmp, free ports), runs
`run await-chain` once so `tree` has a call graph, then times whole processes,
the way a person feels them: `status --json`, `run await-chain --fresh`,
`tree await-chain`, `doctor`, `--help`, and `python -c "import
resonate_rpc_cli.cli.app"`, each beside `python -c "import typer"` and a bare
`python -c pass` measured in the same run. The commands are interleaved round
by round (one warm-up round first) so a loaded machine slows all of them alike;
the figure is the median per command, of wall time and of CPU time (user + system
of the process: less sensitive to other load on the machine than wall time). Ends
with `rpcdemo down`.

Targets (issue 21) are for a quiet 2-core machine where `import typer` takes
0.10 s; on a loaded one this prints each target scaled by the `import typer`
measured here (target x typer / 0.10), and the ratio to typer. The import row
is the package's own share: `import ...cli.app` minus `import typer`, target
0.06 s.

The timed processes run as a person's do: with bytecode caching (an inherited
``PYTHONDONTWRITEBYTECODE`` is dropped, so the warm-up round writes the
package's ``__pycache__`` as a first run would; with it every run recompiles
the package: +60-70 ms here) and with their own ``XDG_CACHE_HOME`` under the
temporary root, where the warm-up round's ``--help`` records Typer's output
(``cli/helpcache.py``); that first, recording ``--help`` is printed on its own
row. The load average is printed before and after.

`--baseline DIR` also times the same commands from another checkout of the package
(e.g. ``git archive main | tar -x -C DIR``), run with ``PYTHONPATH=DIR`` against the same
topology, each right after this checkout's in every round: rows "base: ...", so a
before/after comparison shares the machine's load moment by moment.

`--raw` prints every sample too. Prints a table and a JSON summary last.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: `import typer` on the quiet machine the targets were set on (issue 21).
TYPER_QUIET_S = 0.10
#: Command -> whole-process target on that machine, seconds.
TARGETS_S = {
    "status --json": 0.15,
    "run await-chain --fresh": 0.15,
    "tree await-chain": 0.15,
    "doctor": 0.15,
    "--help": 0.15,
}
IMPORT_TARGET_S = 0.06  # import of resonate_rpc_cli.cli.app beyond `import typer`


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_argv() -> list[str]:
    """The console script beside this interpreter (what `rpcdemo` runs), else `-m`."""
    script = Path(sys.executable).parent / "rpcdemo"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "resonate_rpc_cli"]


def timed(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,),
          cwd: Path | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole process; exits the benchmark when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def commands(home: Path) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    rpc = [*cli_argv(), "--home", str(home)]
    py = [sys.executable, "-c"]
    return {
        "python -c pass": ([*py, "pass"], (0,)),
        "import typer": ([*py, "import typer"], (0,)),
        "import cli.app": ([*py, "import resonate_rpc_cli.cli.app"], (0,)),
        "status --json": ([*rpc, "status", "--json"], (0,)),
        "run await-chain --fresh": ([*rpc, "run", "await-chain", "--fresh"], (0,)),
        "tree await-chain": ([*rpc, "tree", "await-chain"], (0,)),
        "doctor": ([*rpc, "doctor"], (0, 1)),
        "--help": ([*rpc, "--help"], (0,)),
    }


Samples = dict[str, list[tuple[float, float]]]


FIRST_HELP = "--help (first: records)"


#: the rows a ``--baseline`` checkout is timed for too (the package's own commands)
BASELINE_ROWS = ("import cli.app", *TARGETS_S)
BASE = "base: "


def measure(home: Path, env: dict[str, str], runs: int, baseline: Path | None) -> Samples:
    todo = {name: (argv, ok, env) for name, (argv, ok) in commands(home).items()}
    if baseline is not None:
        base_env = {**env, "PYTHONPATH": os.pathsep.join(
            p for p in (str(baseline.resolve()), env.get("PYTHONPATH")) if p)}
        own = todo
        todo = {}
        for name, spec in own.items():  # each baseline row right after this checkout's
            todo[name] = spec
            if name in BASELINE_ROWS:
                todo[BASE + name] = (spec[0], spec[1], base_env)
    samples: Samples = {name: [] for name in todo}
    for round_no in range(runs + 1):
        for name, (argv, ok, run_env) in todo.items():
            # from HOME's parent: `python -c` puts the working directory first on sys.path,
            # where a checkout would shadow PYTHONPATH's
            took = timed(argv, run_env, ok, cwd=home.parent)
            if round_no:  # round 0 warms the page cache and the bytecode
                samples[name].append(took)
            elif name.endswith("--help"):  # and records the help (cli/helpcache.py)
                samples[name.replace("--help", FIRST_HELP)] = [took]
    return samples


def report(samples: Samples, raw: bool) -> dict[str, Any]:
    wall = {name: statistics.median(w for w, _ in v) for name, v in samples.items()}
    cpu = {name: statistics.median(c for _, c in v) for name, v in samples.items()}
    typer_s, typer_cpu = wall["import typer"], cpu["import typer"]
    scale = typer_s / TYPER_QUIET_S
    print(f"{'command':<32}{'wall':>8}{'/ typer':>9}{'cpu':>8}{'/ typer':>9}"
          f"{'target (scaled)':>17}   verdict (wall)")
    rows: dict[str, Any] = {}
    for name, value in wall.items():
        target = TARGETS_S.get(name)
        line = (f"{name:<32}{value:>7.3f}s{value / typer_s:>8.2f}x"
                f"{cpu[name]:>7.3f}s{cpu[name] / typer_cpu:>8.2f}x")
        if name == "import cli.app":
            own = value - typer_s
            target = IMPORT_TARGET_S
            line += (f"{target * scale:>12.3f}s own {own:.3f}s   "
                     f"{'met' if own <= target * scale else 'MISSED'}")
        elif target is not None:
            line += f"{target * scale:>16.3f}s   {'met' if value <= target * scale else 'MISSED'}"
        print(line)
        if raw:
            print("    " + " ".join(f"{w:.3f}/{c:.3f}" for w, c in samples[name]))
        rows[name] = {"median_s": round(value, 4), "ratio_to_typer": round(value / typer_s, 2),
                      "cpu_median_s": round(cpu[name], 4),
                      "cpu_ratio_to_typer": round(cpu[name] / typer_cpu, 2),
                      "target_scaled_s": None if target is None else round(target * scale, 4)}
    return {"typer_s": round(typer_s, 4), "scale": round(scale, 2), "commands": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--raw", action="store_true", help="Print every sample.")
    parser.add_argument("--baseline", type=Path, default=None, metavar="DIR",
                        help="Also time another checkout of the package (PYTHONPATH=DIR).")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rpcb-cli-"))
    home = root / "home"
    env = dict(os.environ)
    env.pop("RPCDEMO_HOME", None)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        print("(PYTHONDONTWRITEBYTECODE dropped for the timed processes: bytecode is cached "
              "as in a person's shell)")
    env["XDG_CACHE_HOME"] = str(root / "cache")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    rpc = [*cli_argv(), "--home", str(home)]
    try:
        timed([*rpc, "up", "--detach", "--server-port", str(free_port()),
               "--gateway-port", str(free_port())], env)
        timed([*rpc, "run", "await-chain"], env)
        summary = report(measure(home, env, args.runs, args.baseline), args.raw)
        summary["load_after"] = [round(x, 2) for x in os.getloadavg()]
        print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        subprocess.run([*rpc, "down"], capture_output=True, check=False, timeout=60, env=env)
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
