"""Replaying a chaos run: the options an earlier report recorded, and the command to do it.

A replay plays the same schedule and the same workload (same seed, so the
same faults at the same offsets and the same flows in the same order, at
least as many as the run issued, and on until the schedule was played, as
the original did) under a fresh run tag: promise ids never clash
with the original run's. What the system does in between (which node holds
a task when a fault lands) may still differ: that is the system under test.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

from resonate_rpc_cli.chaos.options import ChaosOptions
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home

REPORT_FILE = "report.json"


def _read_run(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--replay: no {path.name} in {path.parent}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--replay: cannot read {path}: {exc}") from None
    run = report.get("run") if isinstance(report, dict) else None
    if not isinstance(run, dict) or not isinstance(run.get("options"), dict):
        raise UsageError(f"--replay: {path} records no run options")
    return run


def recorded_config(directory: Path) -> Path | None:
    """The topology file a declared topology's run recorded (``None``: the seed's run, or
    no readable report: :func:`replay_options` says so)."""
    try:
        config = _read_run(directory / REPORT_FILE)["options"].get("config")
    except UsageError:
        return None
    return Path(config) if isinstance(config, str) else None


def replay_options(directory: Path, app: AppTopology | None = None) -> ChaosOptions:
    """The options to play the run reported in ``directory`` again (on the declared
    topology ``app``, read from :func:`recorded_config`, when the run was on one).

    Raises :class:`UsageError` (exit 2) when the directory holds no readable
    ``report.json`` with the run's options.
    """
    path = directory / REPORT_FILE
    run = _read_run(path)
    try:
        options = ChaosOptions.from_dict(run["options"], app)
    except ValueError as exc:
        raise UsageError(f"--replay: {path}: {exc}") from None
    issued = run.get("flows_issued")
    if isinstance(issued, int) and issued > 0:
        options = replace(options, flows=max(options.flows, issued))
    return options


def replay_command(home: Home, directory: Path) -> str:
    """The shell command that replays the run reported in ``directory``."""
    return (f"rpcdemo --home {shlex.quote(str(home.root))} chaos "
            f"--replay {shlex.quote(str(directory.absolute()))}")
