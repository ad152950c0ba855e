"""``rpcdemo chaos``: the Typer command (the lead registers it: ``app.command("chaos")(chaos)``).

Parses the flags into :class:`~resonate_rpc_cli.chaos.options.ChaosOptions`, calls
:func:`~resonate_rpc_cli.chaos.session.run_chaos` once, renders. Exit codes: verdict pass 0, fail 1,
unknown 2; bad usage 2; infrastructure (could not start or reach the
topology, or it went away mid-run) 3; ended by signal N 128+N. Errors are
one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from resonate_rpc_cli.chaos.schedule import (
    FAULT_KINDS,
    parse_kinds,
    parse_range,
    parse_scopes,
    parse_targets,
)
from resonate_rpc_cli.cli.common import reporting
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.errors import ExitStatus, UsageError
from resonate_rpc_cli.contracts.flows import FLOWS
from resonate_rpc_cli.contracts.home import Home

if TYPE_CHECKING:  # the run, its stopper and the views load only when chaos runs (issue 21)
    from resonate_rpc_cli.chaos.options import ChaosOptions
    from resonate_rpc_cli.chaos.report import ChaosReport
    from resonate_rpc_cli.observe.stopper import Stopper

DEFAULT_MIX = ",".join(FLOWS)
DEFAULT_FAULTS = ",".join(FAULT_KINDS)


def parse_rate(text: str | None) -> float | None:
    """Parse ``--rate`` (``20`` or ``20/s``); ``ValueError`` if malformed."""
    if text is None:
        return None
    raw = text.strip().removesuffix("/s")
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"--rate must be flows per second (20 or 20/s), got {text!r}") from None


def build_options(
    *, flows: int, concurrency: int, mix: str, faults: str | None, targets: str | None,
    interval: str, down: str, seed: int | None, deadline: float, min_faults: int,
    fault_count: int | None, duration: float = 0.0, rate: str | None = None,
    overlap: int = 1, scope: str = "one", holder_wait: float = 5.0,
    app: AppTopology | None = None,
) -> ChaosOptions:
    """The options the flags describe; :class:`UsageError` naming the first bad flag.

    On a declared topology (``app``) the default mix is its flows, the default targets
    its groups, and the default fault kinds leave out ``gateway`` unless it declares the
    seed's gateway (``[groups.gateway]``)."""
    from resonate_rpc_cli.chaos.options import ChaosOptions

    if app is not None and mix == DEFAULT_MIX:
        mix = ",".join(app.flow_names)
    if app is not None and faults is None and app.group("gateway") is None:
        faults = ",".join(k for k in FAULT_KINDS if k != "gateway")
    try:
        kinds = parse_kinds(faults or DEFAULT_FAULTS)
        target_groups = (parse_targets(targets) if app is None
                         else parse_targets(targets, app.group_names))
        interval_s = parse_range(interval, "--interval")
        down_s = parse_range(down, "--down")
        scopes = parse_scopes(scope)
        per_s = parse_rate(rate)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    mix_names = tuple(m.strip() for m in mix.split(",") if m.strip())
    return ChaosOptions(
        flows=flows, concurrency=concurrency, mix=mix_names, faults=kinds,
        targets=target_groups, interval_s=interval_s, down_s=down_s,
        seed=seed if seed is not None else random.SystemRandom().randrange(1 << 31),
        deadline_s=deadline, min_faults=min_faults, fault_count=fault_count,
        duration_s=duration, rate=per_s, overlap=overlap, scopes=scopes,
        holder_wait_s=holder_wait, app=app,
    )


def declared_app(path: Path | None) -> AppTopology | None:
    """The application the topology file at ``path`` declares (``None``: no file);
    :class:`UsageError` for a file that declares no ``[groups.*]``."""
    if path is None:
        return None
    from resonate_rpc_cli.cli.topology_file import load_config_file

    app = load_config_file(path).app
    if app is None:
        raise UsageError(f"{path}: declares no [groups.*]; chaos --config needs a declared "
                         "application (without --config chaos runs the seed's)")
    return app


@reporting("rpcdemo chaos")
def chaos(
    ctx: typer.Context,
    *,
    flows: Annotated[int, typer.Option(help="How many flows to run.")] = 100,
    concurrency: Annotated[int, typer.Option(help="Flows in flight at a time.")] = 8,
    mix: Annotated[str, typer.Option(help="Flow kinds to draw from, comma-separated.")]
        = DEFAULT_MIX,
    faults: Annotated[str | None, typer.Option(
        help=f"Fault kinds, comma-separated, from {DEFAULT_FAULTS} (default: all; "
             "server only when the server keeps a store).")] = None,
    targets: Annotated[str | None, typer.Option(
        metavar="GROUP,...", help="Service groups node faults may hit (default: all).")] = None,
    interval: Annotated[str, typer.Option(
        metavar="MIN:MAX", help="Seconds between faults, drawn uniformly.")] = "1:5",
    seed: Annotated[int | None, typer.Option(
        help="Seed of the fault schedule and flow args (default: random, reported).")] = None,
    deadline: Annotated[float, typer.Option(
        help="Seconds for the workload; settling gets what is left (at least 30).")] = 600.0,
    report: Annotated[Path | None, typer.Option(
        help="Write report.json, history.jsonl, faults.jsonl, schedule.json here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the fault schedule for the seed and do nothing.")] = False,
    min_faults: Annotated[int, typer.Option(
        help="Faults that must land for a pass (fewer: unknown).")] = 3,
    fault_count: Annotated[int | None, typer.Option(
        help="Faults to plan (default: the largest of --min-faults, the number of "
             "kinds, and flows/10).")] = None,
    down: Annotated[str, typer.Option(
        metavar="MIN:MAX", help="Seconds a faulted node stays down before it is healed.")]
        = "0.5:3",
    ttl: Annotated[float, typer.Option(
        help="Lease TTL of a topology chaos starts itself (none running under HOME).")] = 2.0,
    step_delay: Annotated[float, typer.Option(
        help="Step delay of a topology chaos starts itself, so faults land mid-step.")] = 0.2,
    keep_home: Annotated[bool, typer.Option(
        help="Keep the temporary HOME of a topology chaos started itself (logs).")] = False,
    duration: Annotated[float, typer.Option(
        help="Seconds the workload lasts at least; it also goes on until every planned "
             "fault was played, and runs at least --flows flows.")] = 0.0,
    rate: Annotated[str | None, typer.Option(
        metavar="N/s", help="Issue flows at this rate (at most --concurrency in flight); "
                            "default: a closed loop at --concurrency.")] = None,
    overlap: Annotated[int, typer.Option(
        help="Faults that may be in force at once.")] = 1,
    scope: Annotated[str, typer.Option(
        metavar="one|minority|all,...",
        help="Nodes of a group one node fault hits, drawn per fault from this list.")] = "one",
    holder_wait: Annotated[float, typer.Option(
        help="Seconds a node fault waits for a node holding a task before it takes "
             "any node.")] = 5.0,
    replay: Annotated[Path | None, typer.Option(
        metavar="DIR", help="Play the schedule and workload of the report in DIR again "
                            "(its options replace the schedule and workload flags).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", metavar="FILE",
        help="A declared application (rpcdemo.toml with [groups.*], docs/own-app.md): run "
             "its flows, fault its groups, judge with the generic checker.")] = None,
) -> None:
    """Break the topology on a seeded schedule while flows run, then prove nothing was lost.

    Runs against the topology started by `up` under HOME, or starts its own in
    a temporary HOME when none is running (and tears it down after). Runs flows
    (--concurrency at a time or at --rate, re-sending unknown outcomes with the
    same id) for --duration and until the schedule was played, while a nemesis
    kills, terminates, pauses nodes, partitions, delays and resets their links,
    and kills the gateway and the server (up to --overlap at once); then heals
    everything, waits for every promise to settle, and checks: no flow lost, no
    wrong value, every detached chain's cog ran, no completed step re-executed,
    nothing pending, no process left. A run that does not pass keeps its report
    (a temporary directory without --report) and prints the --replay command.

    Exit codes: 0 pass, 1 fail, 2 unknown (too few faults landed or a flow kind
    never completed; or stdout/stderr closed mid-run) or bad usage, 3 the topology
    could not start or be reached, or went away mid-run (`down`, its supervisor
    killed); 128+N when signal N (INT, TERM, HUP) ended the run. A run that ends
    early heals what it broke and writes its report (verdict unknown, the reason).
    """
    from resonate_rpc_cli.chaos.options import recorded_config, replay_command, replay_options
    from resonate_rpc_cli.chaos.session import OwnTopologySettings, run_chaos
    from resonate_rpc_cli.observe.stopper import RunGuard, Stopper, ending_on_signals
    from resonate_rpc_cli.view.chaos_html import render_html

    home = ctx.obj if isinstance(ctx.obj, Home) else Home.resolve(None)
    app = declared_app(config or ctx.meta.get("config_path")
                       or (recorded_config(replay) if replay is not None else None))
    options = replay_options(replay, app) if replay is not None else build_options(
        flows=flows, concurrency=concurrency, mix=mix, faults=faults, targets=targets,
        interval=interval, down=down, seed=seed, deadline=deadline,
        min_faults=min_faults, fault_count=fault_count, duration=duration, rate=rate,
        overlap=overlap, scope=scope, holder_wait=holder_wait, app=app,
    )
    if dry_run:
        _render_schedule(options, as_json)
        return
    if ttl <= 0 or step_delay < 0:
        raise UsageError("--ttl must be > 0 and --step-delay >= 0")
    stopper = Stopper()
    progress = _Progress(stopper)
    with ending_on_signals(stopper):
        result = run_chaos(
            options, home, report_dir=report,
            own=OwnTopologySettings(ttl_s=ttl, step_delay_s=step_delay, keep_home=keep_home),
            on_event=progress.say, explicit_faults=faults is not None or replay is not None,
            keep_failed=True, guard=RunGuard(stopper, streams=(1, 2)), render_html=render_html,
        )
    if result.ended is not None:
        progress.say(f"ended early ({result.ended}): verdict unknown, "
                     f"exit {result.status}")
    elif not _quietly(lambda: _render(result.report, as_json)):
        progress.say("stdout was closed: the report is in the files below")
    for path in result.written:
        progress.say(f"wrote {path}")
    if result.status != ExitStatus.OK and result.report_dir is not None:
        progress.say(f"replay with: {replay_command(home, result.report_dir)}")
    raise typer.Exit(int(result.status))


class _Progress:
    """Progress lines on stderr; a stream that is gone trips the run's stopper, never
    raises (printing never kills a run)."""

    def __init__(self, stopper: Stopper) -> None:
        self.stopper = stopper
        self.closed = False

    def say(self, msg: str) -> None:
        if self.closed:
            return
        if not _quietly(lambda: typer.echo(f"chaos: {msg}", err=True)):
            self.closed = True
            self.stopper.trip("stderr was closed (its reader went away)", ExitStatus.USAGE)


def _quietly(write: Callable[[], None]) -> bool:
    """Run ``write``; False (and later writes to a broken stream muted) if it failed."""
    try:
        write()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except (OSError, ValueError):
        # a closed pipe: point both streams at /dev/null, so the exit flush stays quiet
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    if _stream_broken(stream):
                        os.dup2(devnull, stream.fileno())
            os.close(devnull)
        return False
    return True


def _stream_broken(stream: object) -> bool:
    from resonate_rpc_cli.observe.stopper import stream_closed

    fileno = getattr(stream, "fileno", None)
    return fileno is None or stream_closed(int(fileno()))


def _render_schedule(options: ChaosOptions, as_json: bool) -> None:
    from resonate_rpc_cli.view.chaos_report import render_schedule, show

    schedule = [f.to_dict() for f in options.schedule()]
    if as_json:
        typer.echo(json.dumps({"seed": options.seed, "schedule": schedule}, indent=2))
    else:
        show(render_schedule(schedule, options.seed))


def _render(report: ChaosReport, as_json: bool) -> None:
    from resonate_rpc_cli.view.chaos_report import render_report, show

    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        show(render_report(report))
