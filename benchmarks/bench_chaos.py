"""Benchmark: a long chaos run (every fault kind) and its figures.

    python benchmarks/bench_chaos.py [rpcdemo chaos flags...]

Runs exactly ``rpcdemo chaos`` (the same Typer command) with the given flags;
with none, the long run: 500 flows, 8 at a time, every fault kind, seed 1,
against a topology it starts itself under a temporary HOME (TTL 2 s, step
delay 0.2 s), writing the report under /tmp/rpcdemo-bench-chaos. Prints the
Rich summary and ends with the command's exit code (0 pass, 1 fail, 2 unknown,
3 infrastructure).
"""

from __future__ import annotations

import sys

import typer

from resonate_rpc_cli.cli.chaos_cmd import chaos

LONG_RUN = [
    "--flows", "500", "--concurrency", "8", "--faults", "kill,term,pause,gateway,server",
    "--interval", "1:4", "--down", "0.5:3", "--seed", "1", "--deadline", "900",
    "--report", "/tmp/rpcdemo-bench-chaos",
]


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.command("chaos")(chaos)
    app(["chaos", *(sys.argv[1:] or LONG_RUN)])


if __name__ == "__main__":
    main()
