"""The ``rpcdemo`` command line: parse, call one core function, render.

Exit codes (a contract, see docs/cli.md): 0 ok; 1 a flow failed or timed out;
2 usage error; 3 the topology is not running or not healthy (or could not
start). Every :class:`~resonate_rpc_cli.status.RpcdemoError` becomes one line
on stderr and its exit code in :func:`_guard`; nothing prints a traceback.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from resonate_rpc_cli import flowrun, nodecmd, observe
from resonate_rpc_cli.chaos.command import chaos
from resonate_rpc_cli.configfile import load_config_file, merge_settings
from resonate_rpc_cli.flows import flow_named
from resonate_rpc_cli.home import Home
from resonate_rpc_cli.protocol import ServerUnreachable
from resonate_rpc_cli.status import ExitStatus, NotRunningError, RpcdemoError, UsageError
from resonate_rpc_cli.supervisor import control, launch
from resonate_rpc_cli.supervisor.spec import (
    DEFAULT_TTL_S,
    TopologyConfig,
    check_replicas,
    parse_delay,
    parse_only,
    parse_replicas,
    validate_config,
)
from resonate_rpc_cli.topology import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_SERVER_PORT,
    GATEWAY,
    SERVICE_GROUPS,
)
from resonate_rpc_cli.view.console import err, out
from resonate_rpc_cli.view.live import run_live
from resonate_rpc_cli.view.render import kill_view, promise_tree, run_view, status_view

app = typer.Typer(
    name="rpcdemo", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
    help="Bring up, drive, break and watch a durable RPC topology on Resonate.\n\n"
         "Exit codes: 0 ok, 1 a flow failed or timed out, 2 usage error, "
         "3 the topology is not running or not healthy.",
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _guard[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    """Map errors to one line on stderr and their documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RpcdemoError as exc:
            typer.echo(f"rpcdemo: {exc}", err=True)
            raise typer.Exit(int(exc.status)) from None
        except KeyboardInterrupt:
            typer.echo("rpcdemo: interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _home(ctx: typer.Context) -> Home:
    home = ctx.obj
    assert isinstance(home, Home)
    return home


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home", envvar="RPCDEMO_HOME",
        help="Where state, logs, the store and the ledgers live (default ./.rpcdemo).")] = None,
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="Topology file for `up` (default ./rpcdemo.toml when present).")]
        = None,
) -> None:
    ctx.obj = Home.resolve(home)
    ctx.meta["config_path"] = config_path


# -- up / down -------------------------------------------------------------------------


UP_FLAG_HELP = ("Flags override the topology file (./rpcdemo.toml or --config) "
                "field by field.")


@app.command()
@_guard
def up(
    ctx: typer.Context,
    *,
    detach: Annotated[bool, typer.Option("--detach", "-d",
        help="Return once every node is ready; leave the supervisor running.")] = False,
    host: Annotated[str | None, typer.Option(help="Address the server and gateway bind "
        "and nodes connect to, e.g. this host's LAN address so nodes on other hosts can "
        "join (default 127.0.0.1).", show_default=False)] = None,
    server_port: Annotated[int | None, typer.Option(help="Port of the server we start "
        f"(default {DEFAULT_SERVER_PORT}).", show_default=False)] = None,
    gateway_port: Annotated[int | None, typer.Option(help="Port of the gateway "
        f"(default {DEFAULT_GATEWAY_PORT}).", show_default=False)] = None,
    ttl: Annotated[float | None, typer.Option(help="Lease TTL of every node, in seconds. Short, "
        "so a killed node's work moves on quickly in a demo (Resonate's own default is 60) "
        f"(default {DEFAULT_TTL_S}).", show_default=False)] = None,
    step_delay: Annotated[float | None, typer.Option(help="Seconds every step takes "
        "(default 0).", show_default=False)] = None,
    delay: Annotated[list[str] | None, typer.Option("--delay", metavar="GROUP=SECONDS",
        help="Step delay for one group, e.g. service-b=3 (repeatable).")] = None,
    delay_mode: Annotated[str | None, typer.Option(help="work: busy work inside the step, "
        "re-done after a crash; sleep: a durable ctx.sleep (a checkpoint) (default work).",
        show_default=False)] = None,
    fail_first: Annotated[bool | None, typer.Option("--fail-first/--no-fail-first",
        help="Every step raises on its first attempt (shows the SDK's retry).",
        show_default=False)] = None,
    memory: Annotated[bool | None, typer.Option("--memory/--no-memory",
        help="Keep the server's state in memory only.", show_default=False)] = None,
    replicas: Annotated[list[str] | None, typer.Option("--replicas", metavar="GROUP=N",
        help="Nodes of one service group, e.g. service-b=3 (repeatable; 1..16).")] = None,
    server_choice: Annotated[str | None, typer.Option("--server",
        help="embedded: our dev server; resonate: the real `resonate` binary on PATH "
        "(default embedded).", show_default=False)] = None,
    server_url: Annotated[str | None, typer.Option("--server-url", envvar="RESONATE_URL",
        help="Use a Resonate server that is already running: no server is started.",
        show_default=False)] = None,
    only: Annotated[str | None, typer.Option("--only", metavar="PART,...",
        help="Start only these of gateway, service-a … service-i (the server too, "
        "unless --server-url).")] = None,
    config_path: Annotated[Path | None, typer.Option("--config",
        help="Topology file (default ./rpcdemo.toml when present).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")]
        = launch.DEFAULT_UP_TIMEOUT_S,
    as_json: JsonOpt = False,
) -> None:
    """Start the server, the gateway and the service nodes (one per group by default).

    Waits until every node is ready, then shows the live view (Ctrl-C stops
    everything) or, with --detach, returns 0 and leaves the topology running.
    A port in use is an error (exit 3) and nothing is left running. Flags
    override the topology file (./rpcdemo.toml or --config) field by field.
    """
    flags: dict[str, Any] = {}
    for key, value in (("host", host), ("server_port", server_port),
                       ("gateway_port", gateway_port),
                       ("ttl_s", ttl), ("step_delay_s", step_delay),
                       ("delay_mode", delay_mode), ("fail_first", fail_first),
                       ("memory", memory), ("server_url", server_url)):
        if value is not None:
            flags[key] = value
    if delay:
        flags["delays"] = dict(parse_delay(d) for d in delay)
    if replicas:
        flags["replicas"] = dict(parse_replicas(r) for r in replicas)
    if server_choice is not None:
        if server_choice not in ("embedded", "resonate"):
            raise UsageError(f"--server must be embedded or resonate, got {server_choice!r} "
                             "(a running server: --server-url URL)")
        flags["server_kind"] = server_choice
    if only is not None:
        flags["only"] = parse_only(only)
        # the file may name replicas of groups another host runs; a flag may not
        left_out = [g for g in flags.get("replicas", {}) if g not in flags["only"]]
        if left_out:
            raise UsageError(f"--replicas names {', '.join(left_out)}, which --only "
                             f"{only} leaves out")
    settings = load_config_file(config_path or ctx.meta.get("config_path"))
    config = validate_config(TopologyConfig(**merge_settings(settings, flags)))
    home = _home(ctx)
    if not detach:
        signal.signal(signal.SIGTERM, _interrupt)
    result = launch.up(home, config, detach=detach, timeout_s=timeout)
    gateway = config.gateway_url if config.includes(GATEWAY) else None
    summary = {"home": str(home.root), "supervisor_pid": result.supervisor_pid,
               "elapsed_s": round(result.elapsed_s, 3), "cleaned": result.cleaned,
               "server": config.server_url, "server_kind": config.server_kind,
               "gateway": gateway, "nodes": result.status["nodes"]}
    if as_json:
        _emit(summary)
    else:
        if result.cleaned:
            out.print(f"cleaned {result.cleaned} leftover process(es) of an earlier run")
        where = f"server {config.server_url}" + (
            "" if config.starts_server else " (external, not started here)")
        out.print(f"[green]ready[/] in {result.elapsed_s:.1f}s: {where}, "
                  f"gateway {gateway or '(not here)'}, {len(result.status['nodes'])} nodes "
                  f"(supervisor pid {result.supervisor_pid}, home {home.root})")
    if detach:
        return
    _foreground(home, result)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _foreground(home: Home, result: launch.UpResult) -> None:
    """Attach the live view to the topology we own; tear it down when it ends."""
    try:
        if out.is_terminal:
            run_live(home, out)
        else:
            while result.daemon is not None and result.daemon.poll() is None:
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        err.print("stopping…")
        launch.down(home)
        if result.daemon is not None:
            result.daemon.wait(10)


@app.command()
@_guard
def down(ctx: typer.Context, *, as_json: JsonOpt = False) -> None:
    """Stop everything under HOME (TERM, grace, KILL). Exit 0 even if nothing ran."""
    result = launch.down(_home(ctx))
    if as_json:
        _emit(result)
    elif result["was_running"]:
        out.print("stopped")
    else:
        out.print(f"nothing was running under {_home(ctx).root}" + (
            f"; ended {result['leftovers']} leftover process(es)" if result["leftovers"] else ""))


# -- the server alone ----------------------------------------------------------------


@app.command()
@_guard
def server(
    ctx: typer.Context,
    *,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = DEFAULT_SERVER_PORT,
    store: Annotated[Path | None, typer.Option(help="SQLite store "
        "(default HOME/store.sqlite).")] = None,
    memory: Annotated[bool, typer.Option(help="Keep state in memory only.")] = False,
    stream_lifetime: Annotated[float, typer.Option(help="End SSE streams after S seconds.")]
        = 240.0,
    keepalive: Annotated[float, typer.Option(help="Keepalive interval on idle streams (s).")]
        = 15.0,
    hold_max: Annotated[int, typer.Option(help="Max messages held for absent listeners.")]
        = 10_000,
    hold_age: Annotated[float, typer.Option(help="Max age of a held message (s).")] = 300.0,
    max_body: Annotated[int, typer.Option(help="Largest accepted request body (bytes).")]
        = 4 * 1024 * 1024,
    no_extras: Annotated[bool, typer.Option("--no-extras",
        help="Hide /rpcdemo/* like a real server.")] = False,
    fsync: Annotated[bool, typer.Option(help="fsync every commit.")] = False,
) -> None:
    """Run only the embedded Resonate server in the foreground until Ctrl-C.

    Exit 3 when the port is in use or the store cannot be opened.
    """
    # imported here: the server pulls in aiohttp, which every other command can skip
    from resonate_rpc_cli.server.config import ServerConfig  # noqa: PLC0415
    from resonate_rpc_cli.server.runner import serve  # noqa: PLC0415

    if store is not None and memory:
        raise UsageError("--store and --memory cannot be used together")
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    if min(stream_lifetime, keepalive, hold_age) <= 0 or min(hold_max, max_body) <= 0:
        raise UsageError("--stream-lifetime, --keepalive, --hold-* and --max-body must be > 0")
    home = _home(ctx)
    if not memory and store is None:
        home.ensure()
    chosen = None if memory else (store or home.store_path).absolute()
    serve(ServerConfig(host=host, port=port, store=chosen, stream_lifetime_s=stream_lifetime,
                       keepalive_s=keepalive, hold_max=hold_max, hold_age_s=hold_age,
                       max_body_bytes=max_body, extras=not no_extras, fsync=fsync))


# -- flows -----------------------------------------------------------------------------


@app.command()
@_guard
def run(
    ctx: typer.Context,
    *,
    flow: Annotated[str, typer.Argument(help="await-chain, detached-chain or fan-out.")],
    promise_id: Annotated[str | None, typer.Option("--id", help="Promise id of the root.")]
        = None,
    fresh: Annotated[bool, typer.Option(help="Use a new unique promise id.")] = False,
    arg: Annotated[int, typer.Option(help="Argument of the root function.")] = 1,
    wait: Annotated[bool, typer.Option(help="Detached chain: wait until cog has run "
        "and report its value.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")]
        = flowrun.DEFAULT_TIMEOUT_S,
    as_json: JsonOpt = False,
) -> None:
    """Run one flow through the gateway and print its result (exit 1 if it fails)."""
    try:
        chosen = flow_named(flow)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    pid = flowrun.choose_id(chosen, promise_id, fresh)
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    home = _home(ctx)
    status = control.call(home, "status")
    config = TopologyConfig.from_json(status["config"])
    if not any(n["group"] == GATEWAY for n in status["nodes"]):
        raise NotRunningError(f"the topology under {home.root} has no gateway (started with "
                              "--only); run flows with the HOME that runs the gateway")
    outcome = flowrun.run_flow(config.gateway_url, chosen, pid, arg=arg, wait=wait,
                               timeout_s=timeout, ledger_dir=home.ledger_dir)
    if as_json:
        _emit(outcome.to_dict())
    else:
        out.print(run_view(outcome.to_dict()))
    if outcome.exit_status is not ExitStatus.OK:
        raise typer.Exit(int(outcome.exit_status))


# -- kill / respawn ----------------------------------------------------------------------


@app.command()
@_guard
def kill(
    ctx: typer.Context,
    *,
    target: Annotated[str, typer.Argument(help="A group (service-b) or a node (service-b-1).")],
    respawn: Annotated[bool, typer.Option(help="Start a new node (new node id) in its place.")]
        = False,
    respawn_after: Annotated[float | None, typer.Option(
        help="Seconds to wait before respawning (implies --respawn).")] = None,
    sig: Annotated[str, typer.Option("--signal", help="KILL, TERM, STOP or CONT.")] = "KILL",
    count: Annotated[int | None, typer.Option(help="Only this many nodes of the group.")]
        = None,
    as_json: JsonOpt = False,
) -> None:
    """Signal a node or a group; with --respawn a new node joins the same group.

    A node killed without --respawn stays down until `rpcdemo respawn`.
    """
    if count is not None and count < 1:
        raise UsageError("--count must be at least 1")
    if respawn_after is not None:
        if respawn_after < 0:
            raise UsageError("--respawn-after must be >= 0")
        respawn = True
    respawn_after = respawn_after or 0.0
    home = _home(ctx)
    before = {n["name"]: n["incarnation"] for n in control.call(home, "status")["nodes"]}
    result = control.call(home, "kill", target=target, signal=sig, count=count,
                          respawn=respawn, respawn_after=respawn_after)
    respawned = _await_respawn(home, result["respawn_pending"], before, respawn_after + 15)
    doc = {"killed": result["killed"], "respawned": respawned}
    if as_json:
        _emit(doc)
    else:
        out.print(kill_view(doc))


def _await_respawn(home: Home, names: list[str], before: dict[str, int], timeout_s: float
                   ) -> list[dict[str, Any]]:
    """Wait until each named node runs a newer incarnation; its new name and pid."""
    if not names:
        return []
    deadline = time.monotonic() + timeout_s
    while True:
        nodes = {n["name"]: n for n in control.call(home, "status")["nodes"]}
        fresh = [nodes[name] for name in names
                 if nodes[name]["incarnation"] > before.get(name, 0) and nodes[name]["pid"]]
        if len(fresh) == len(names):
            return [{"name": n["name"], "pid": n["pid"], "node_id": n["node_id"]} for n in fresh]
        if time.monotonic() >= deadline:
            late = sorted(set(names) - {n["name"] for n in fresh})
            raise NotRunningError(f"not respawned within {timeout_s:g}s: {', '.join(late)}")
        time.sleep(0.05)


@app.command("respawn")
@_guard
def respawn_cmd(
    ctx: typer.Context,
    *,
    target: Annotated[str, typer.Argument(help="A group or a node that is down.")],
    as_json: JsonOpt = False,
) -> None:
    """Start a new incarnation of every node of TARGET that is down (killed or failed)."""
    home = _home(ctx)
    before = {n["name"]: n["incarnation"] for n in control.call(home, "status")["nodes"]}
    names = control.call(home, "respawn", target=target)["respawned"]
    respawned = _await_respawn(home, names, before, 15)
    if as_json:
        _emit({"respawned": respawned})
    else:
        for node in respawned:
            out.print(f"respawned [bold green]{node['name']}[/] (pid {node['pid']})")


# -- shape: scale and foreground nodes ---------------------------------------------------


@app.command()
@_guard
def scale(
    ctx: typer.Context,
    *,
    group: Annotated[str, typer.Argument(help="A service group, e.g. service-b.")],
    count: Annotated[int, typer.Argument(help="Nodes it should run from now on (0..16).")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait until the group has "
        "exactly COUNT ready nodes.")] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Run COUNT nodes of GROUP on the running topology (up or down).

    New nodes take the lowest free numbers; scaling down TERMs the
    highest-numbered ones; kept nodes that are down are respawned. 0 is
    allowed: the group's work waits, durably, until it is scaled up again.
    Waits until the group has exactly COUNT ready nodes (exit 3 if not
    within --timeout).
    """
    check_replicas(group, count)
    home = _home(ctx)
    result = control.call(home, "scale", group=group, count=count)
    nodes = _await_group(home, group, count, timeout)
    doc = {"group": group, "replicas": count, "added": result["added"],
           "removed": result["retiring"], "respawned": result.get("respawned", []),
           "nodes": [{k: n[k] for k in ("name", "pid", "node_id", "state")} for n in nodes]}
    if as_json:
        _emit(doc)
        return
    out.print(f"{group}: {count} node(s)" + (
        f"; started {', '.join(doc['added'])}" if doc["added"] else "") + (
        f"; stopped {', '.join(doc['removed'])}" if doc["removed"] else "") + (
        f"; respawned {', '.join(doc['respawned'])}" if doc["respawned"] else ""))


def _await_group(home: Home, group: str, count: int, timeout_s: float) -> list[dict[str, Any]]:
    """Wait until ``group`` has exactly ``count`` ready nodes and none retiring."""
    deadline = time.monotonic() + timeout_s
    while True:
        nodes = [n for n in control.call(home, "status")["nodes"] if n["group"] == group]
        if len(nodes) == count and all(n["state"] == "ready" for n in nodes):
            return nodes
        if time.monotonic() >= deadline:
            seen = ", ".join(f"{n['name']} {n['state']}" for n in nodes) or "no nodes"
            raise NotRunningError(f"{group} did not reach {count} ready node(s) within "
                                  f"{timeout_s:g}s ({seen})")
        time.sleep(0.05)


@app.command()
@_guard
def node(
    ctx: typer.Context,
    *,
    group: Annotated[str, typer.Argument(help="The service group to serve, e.g. service-b.")],
    server_url: Annotated[str, typer.Option("--server-url", envvar="RESONATE_URL",
        help="The Resonate server to join.")] = f"http://127.0.0.1:{DEFAULT_SERVER_PORT}",
    count: Annotated[int, typer.Option(help="How many nodes of GROUP (1..16).")] = 1,
    ttl: Annotated[float, typer.Option(help="Lease TTL of each node, in seconds.")]
        = DEFAULT_TTL_S,
    step_delay: Annotated[float, typer.Option(help="Seconds every step takes.")] = 0.0,
    delay_mode: Annotated[str, typer.Option(help="work or sleep (see `up --help`).")] = "work",
    as_json: JsonOpt = False,
) -> None:
    """Run COUNT nodes of one group in the foreground, on any host, against a running server.

    No supervisor is needed: this command restarts nodes that crash and
    stops them all on Ctrl-C/TERM (and they exit if it is killed). Logs and
    ledgers go under HOME. Exit 3 when the server does not answer or every
    node fails; 2 for an unknown group or a HOME that runs a topology.
    """
    if group not in SERVICE_GROUPS:
        raise UsageError(f"unknown group {group!r}; valid groups: {', '.join(SERVICE_GROUPS)}")
    if not 1 <= count <= 16:
        raise UsageError(f"--count must be from 1 to 16, got {count}")
    config = validate_config(TopologyConfig(
        server_kind="external", server_url=server_url, only=[group], replicas={group: count},
        ttl_s=ttl, step_delay_s=step_delay, delay_mode=delay_mode))
    emit = (lambda event: typer.echo(json.dumps(event))) if as_json else \
        (lambda event: typer.echo(nodecmd.describe(event)))
    code = nodecmd.run_nodes(_home(ctx), config, emit)
    if code:
        raise typer.Exit(code)


# -- looking -----------------------------------------------------------------------------


@app.command()
@_guard
def status(ctx: typer.Context, *, as_json: JsonOpt = False) -> None:
    """Server, nodes (state, pid, restarts, uptime, task held) and promise counts."""
    doc = observe.collect_status(_home(ctx))
    if as_json:
        _emit(doc)
        return
    out.print(status_view(doc))


@app.command()
@_guard
def watch(
    ctx: typer.Context,
    *,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")]
        = None,
    interval: Annotated[float, typer.Option(
        help="With --json: seconds between snapshots.")] = 1.0,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one `status --json` snapshot per line instead of the view.")]
        = False,
) -> None:
    """The live view of a running (detached) topology; Ctrl-C leaves it running.

    With --json, a stream of status snapshots (JSON lines) for scripts.
    """
    home = _home(ctx)
    if as_json:
        if interval <= 0:
            raise UsageError("--interval must be > 0 seconds")
        deadline = None if duration is None else time.monotonic() + duration
        while True:
            typer.echo(json.dumps(observe.collect_status(home), default=str))
            if deadline is not None and time.monotonic() + interval > deadline:
                return
            time.sleep(interval)
    why = run_live(home, out, duration_s=duration)
    if why == "gone":
        raise NotRunningError("the supervisor went away")


@app.command()
@_guard
def tree(
    ctx: typer.Context,
    *,
    promise_id: Annotated[str, typer.Argument(help="Root promise id, e.g. await-chain.")],
    as_json: JsonOpt = False,
) -> None:
    """One call graph (every promise tagged with this origin) and its states."""
    home = _home(ctx)
    status = control.call(home, "status")
    config = TopologyConfig.from_json(status["config"])
    source = observe.PromiseSource(config.server_url)
    try:
        rows = observe.tree_rows(source, promise_id, observe.node_names_by_id(status["nodes"]))
    except ServerUnreachable as exc:
        raise NotRunningError(str(exc)) from None
    if not rows and source.notice is None:
        raise RpcdemoError(f"no promise {promise_id!r} on {config.server_url}")
    if as_json:
        _emit({"root": promise_id, "promises": [r.to_dict() for r in rows],
               "notice": source.notice})
        return
    out.print(promise_tree(rows, title=promise_id))
    if source.notice:
        err.print(source.notice, markup=False)


@app.command()
@_guard
def logs(
    ctx: typer.Context,
    *,
    node: Annotated[str, typer.Argument(help="A node name, e.g. service-b-1, or supervisor.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")]
        = False,
    incarnation: Annotated[int | None, typer.Option(help="Which incarnation (default: the last).")]
        = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help='One JSON object per log line: {"node", "log", "line"}.')] = False,
) -> None:
    """Print a node's log (its latest incarnation unless --incarnation)."""
    home = _home(ctx)
    path = _log_path(home, node, incarnation)

    def emit(text: str) -> None:
        if as_json:
            for line in text.splitlines():
                sys.stdout.write(json.dumps({"node": node, "log": str(path), "line": line}) + "\n")
        else:
            sys.stdout.write(text)
        sys.stdout.flush()

    with path.open("r", errors="replace") as fh:
        emit(fh.read())
        while follow:
            line = fh.readline()
            if line:
                emit(line)
            else:
                time.sleep(0.2)


def _log_path(home: Home, node: str, incarnation: int | None) -> Path:
    if node == "supervisor":
        path = home.supervisor_log
    elif incarnation is not None:
        path = home.node_log(node, incarnation)
    else:
        found = sorted(home.logs_dir.glob(f"{node}.*.log"),
                       key=lambda p: int(p.stem.rsplit(".", 1)[1]) if
                       p.stem.rsplit(".", 1)[1].isdigit() else 0)
        if not found:
            if not control.answering(home):
                raise NotRunningError(control.not_running_message(home))
            known = sorted({p.name.split(".", 1)[0] for p in home.logs_dir.glob("*.log")})
            raise UsageError(f"no log for {node!r}; nodes with logs: {', '.join(known)}")
        path = found[-1]
    if not path.is_file():
        raise UsageError(f"no log at {path}")
    return path


app.command("chaos")(chaos)


def main() -> None:
    """Console entry point (``rpcdemo``).

    Runs the app non-standalone so that click's own usage errors (a bad
    integer, a missing argument) are one line on stderr with exit code 2, like
    ours, instead of a multi-line panel; ``--help`` keeps its rich layout.
    """
    try:
        code = app(prog_name="rpcdemo", standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one printed the help already
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            formatter = getattr(exc, "format_message", None)
            message = formatter() if callable(formatter) else str(exc)
            typer.echo(f"rpcdemo: {message}{hint}", err=True)
        sys.exit(int(getattr(exc, "exit_code", ExitStatus.USAGE)))
    sys.exit(code if isinstance(code, int) else 0)
