"""Benchmark: a long chaos run (every fault kind, two at a time) and its figures.

    python benchmarks/bench_chaos.py [rpcdemo chaos flags...]

Runs ``rpcdemo chaos`` (the same Typer command): the long run below, with the
given flags added (a flag given again overrides it: ``--duration 600`` makes
it a ten-minute soak). The long run: at least 500 flows, 8 at a time, every fault kind
(the network ones too: partition, delay, reset through the link proxies),
up to two faults in force at once, scopes one and minority, seed 1, against
a topology it starts itself under a temporary HOME (TTL 2 s, step delay
0.2 s), writing the report (and report.html) under /tmp/rpcdemo-bench-chaos.

Prints the Rich summary, then one line with the share of planned faults that
landed (target: >= 90 %), one with the size of ``report.html`` (target: under
10 MB however long the run; its baseline, the same run drawn mark by mark,
is estimated from the flows: about 2.7 KB each) and whether headless Chromium
(``/usr/bin/chromium``) opened it and drew it, and ends with the command's exit code (0 pass,
1 fail, 2 unknown, 3 infrastructure), or 1 when the command passed but fewer
than 90 % of the planned faults landed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
PAGE_TARGET_BYTES = 10 * 2**20
#: report.html per flow before issue 23 (every mark drawn one by one): the baseline
PER_FLOW_BYTES = 2_700


def page_line(report_dir: Path) -> tuple[str, bool]:
    """The size of report.html, and whether headless Chromium opened and drew it."""
    page = report_dir / "report.html"
    size = page.stat().st_size
    report = json.loads((report_dir / "report.json").read_text())
    flows = int(report["run"]["flows_issued"])
    drawn = _drawn_in_chromium(page)
    return (f"report.html: {size / 2**20:.2f} MB for {flows} flows (target < 10 MB; drawn "
            f"mark by mark it would be ~{flows * PER_FLOW_BYTES / 2**20:.1f} MB); "
            f"chromium: {drawn}", size < PAGE_TARGET_BYTES and drawn.startswith("drawn"))


def _drawn_in_chromium(page: Path, timeout_s: float = 120.0) -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        return "not installed"
    with tempfile.TemporaryDirectory(prefix="rpcdemo-bench-chromium-") as profile:
        proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--dump-dom", page.absolute().as_uri()],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            start_new_session=True, text=True)
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            out = ""
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return "drawn" if 'data-drawn="1"' in out else "did not draw it"


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
    args = [*LONG_RUN, *sys.argv[1:]]
    try:
        app(["chaos", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    report_dir = Path(args[len(args) - 1 - args[::-1].index("--report") + 1])
    if (report_dir / "report.json").exists():
        line, met = landed_line(report_dir)
        print(line)
        page, small = page_line(report_dir)
        print(page)
        if code == 0 and not (met and small):
            code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
