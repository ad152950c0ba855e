"""Benchmark: a long chaos run (every fault kind, two at a time) and its figures.

    python benchmarks/bench_chaos.py [rpcdemo chaos flags...]

Runs exactly ``rpcdemo chaos`` (the same Typer command) with the given flags;
with none, the long run: at least 500 flows, 8 at a time, every fault kind
(the network ones too: partition, delay, reset through the link proxies),
up to two faults in force at once, scopes one and minority, seed 1, against
a topology it starts itself under a temporary HOME (TTL 2 s, step delay
0.2 s), writing the report (and report.html) under /tmp/rpcdemo-bench-chaos.

Prints the Rich summary, then one line with the share of planned faults that
landed (target: >= 90 %), and ends with the command's exit code (0 pass,
1 fail, 2 unknown, 3 infrastructure), or 1 when the command passed but fewer
than 90 % of the planned faults landed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from resonate_rpc_cli.cli.chaos_cmd import chaos

REPORT_DIR = "/tmp/rpcdemo-bench-chaos"
LONG_RUN = [
    "--flows", "500", "--concurrency", "8",
    "--faults", "kill,term,pause,gateway,server,partition,delay,reset",
    "--overlap", "2", "--scope", "one,minority",
    "--interval", "1:4", "--down", "0.5:3", "--seed", "1", "--deadline", "900",
    "--report", REPORT_DIR,
]
LANDED_TARGET = 0.9


def landed_line(report_dir: Path) -> tuple[str, bool]:
    """The landed-faults figure of the report in ``report_dir``, and whether it meets the target."""
    report = json.loads((report_dir / "report.json").read_text())
    faults = report["faults"]
    planned, landed = int(faults["planned"]), int(faults["landed"])
    share = landed / planned if planned else 1.0
    net = report.get("network", {})
    return (f"faults landed: {landed} of {planned} planned ({share:.0%}; target >= "
            f"{LANDED_TARGET:.0%}), {faults.get('mid_step', 0)} on a task holder, "
            f"by kind {faults.get('by_kind')}; fenced stale holders {net.get('fenced', 0)}; "
            f"flows {report['flows']['attempted']} in {report['run']['workload_s']} s",
            share >= LANDED_TARGET)


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.command("chaos")(chaos)
    args = sys.argv[1:] or LONG_RUN
    try:
        app(["chaos", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    report_dir = Path(args[args.index("--report") + 1]) if "--report" in args else None
    if report_dir is not None and (report_dir / "report.json").exists():
        line, met = landed_line(report_dir)
        print(line)
        if code == 0 and not met:
            code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
