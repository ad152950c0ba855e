"""`up`, `down` and `server`: start and stop a topology, or the embedded server alone."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from resonate_rpc_cli.cli.common import (
    JsonOpt,
    app,
    emit_json,
    exit_on_error,
    home_of,
)
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_SERVER_PORT,
    GATEWAY,
)
from resonate_rpc_cli.server.config import ServerConfig
from resonate_rpc_cli.supervisor import config_values as cv
from resonate_rpc_cli.supervisor.topology_config import (
    DEFAULT_TTL_S,
    DEFAULT_UP_TIMEOUT_S,
    MAX_REPLICAS,
    STARTED_SERVER_KINDS,
    TopologyConfig,
    parse_delay,
    parse_only,
    parse_replicas,
    retain_seconds,
    validate_config,
)

if TYPE_CHECKING:  # launching, the topology file and Rich load when a command runs (issue 21)
    from resonate_rpc_cli.supervisor import launch


@app.command()
@exit_on_error
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
        help="Nodes of one service group, e.g. service-b=3 "
        f"(repeatable; 1..{MAX_REPLICAS}).")] = None,
    server_choice: Annotated[str | None, typer.Option("--server",
        help="embedded: our dev server; resonate: the real `resonate` binary on PATH; "
        "postgres: resonate-pg on a PostgreSQL cluster under HOME (default embedded).",
        show_default=False)] = None,
    resonate_sql: Annotated[str | None, typer.Option("--resonate-sql", metavar="PATH",
        envvar="RPCDEMO_RESONATE_SQL", help="resonate-pg's schema file (resonate.sql from "
        "github.com/resonatehq/resonate-pg), applied once to the cluster of --server postgres.",
        show_default=False)] = None,
    server_url: Annotated[str | None, typer.Option("--server-url", envvar="RESONATE_URL",
        help="Use a Resonate server that is already running: no server is started.",
        show_default=False)] = None,
    links: Annotated[bool | None, typer.Option("--links/--no-links",
        help="Each node reaches the server through its own loopback link proxy, so "
        "`rpcdemo net` can break one node's network (default off: they add about 10-25% "
        "to flow latency).",
        show_default=False)] = None,
    only: Annotated[str | None, typer.Option("--only", metavar="PART,...",
        help="Start only these of gateway, service-a … service-i (the server too, "
        "unless --server-url).")] = None,
    retain: Annotated[str | None, typer.Option(metavar="DURATION",
        help="The embedded server drops call trees settled longer ago than this, e.g. 1h "
        "(default: keep everything).", show_default=False)] = None,
    auth: Annotated[bool | None, typer.Option("--auth/--no-auth",
        help="Resonate tokens on the embedded server: a key pair under HOME, a token for "
        "every node, 401/403 for anyone without one (`rpcdemo token` mints more).",
        show_default=False)] = None,
    insecure: Annotated[bool, typer.Option("--insecure",
        help="Allow a non-loopback --host without --auth (anyone who reaches the port "
        "can drive the server).")] = False,
    variant: Annotated[str | None, typer.Option(metavar="seed|polyglot",
        help="polyglot: service-h and service-i run on Resonate's TypeScript SDK "
        "(services/ts, Node from the venv) (default seed: all Python).",
        show_default=False)] = None,
    config_path: Annotated[Path | None, typer.Option("--config",
        help="Topology file (default ./rpcdemo.toml when present).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")]
        = DEFAULT_UP_TIMEOUT_S,
    as_json: JsonOpt = False,
) -> None:
    """Start the server, the gateway and the service nodes (one per group by default).

    Waits until every node is ready, then shows the live view (Ctrl-C stops
    everything) or, with --detach, returns 0 and leaves the topology running.
    A port in use is an error (exit 3) and nothing is left running. Flags
    override the topology file (./rpcdemo.toml or --config) field by field.
    """
    from resonate_rpc_cli.backends.base import is_loopback
    from resonate_rpc_cli.cli.topology_file import load_config_file, merge_settings
    from resonate_rpc_cli.supervisor import launch
    from resonate_rpc_cli.view.console import err

    flags: dict[str, Any] = {key: value for key, value in (
        ("host", host), ("server_port", server_port), ("gateway_port", gateway_port),
        ("ttl_s", ttl), ("step_delay_s", step_delay), ("delay_mode", delay_mode),
        ("fail_first", fail_first), ("memory", memory), ("server_url", server_url),
        ("links", links), ("resonate_sql", resonate_sql), ("auth", auth),
        ("variant", variant),
    ) if value is not None}
    flags["insecure"] = insecure
    if retain is not None:
        flags["retain_s"] = retain_seconds(retain)
    flags.update(_group_flags(delay, replicas, server_choice, only))
    settings = load_config_file(config_path or ctx.meta.get("config_path"))
    config = validate_config(TopologyConfig(**merge_settings(settings, flags)))
    home = home_of(ctx)
    if config.insecure and not config.auth and not is_loopback(config.host):
        err.print(f"[yellow]insecure:[/] the server listens on {config.host} without tokens: "
                  "anyone who reaches it can read, settle or cancel every promise and run "
                  "or fail any step (use --auth)")
    if not detach:
        signal.signal(signal.SIGTERM, _interrupt)
    result = launch.up(home, config, detach=detach, timeout_s=timeout)
    _report_up(home, config, result, as_json)
    if detach:
        return
    _foreground(home, result)


def _group_flags(delay: list[str] | None, replicas: list[str] | None,
                 server_choice: str | None, only: str | None) -> dict[str, Any]:
    """The flags that need parsing, as ``TopologyConfig`` fields; UsageError if bad."""
    flags: dict[str, Any] = {}
    if delay:
        flags["delays"] = dict(parse_delay(d) for d in delay)
    if replicas:
        flags["replicas"] = dict(parse_replicas(r) for r in replicas)
    if server_choice is not None:
        if server_choice not in STARTED_SERVER_KINDS:
            raise UsageError(f"--server must be embedded, resonate or postgres, got "
                             f"{server_choice!r} (a running server: --server-url URL)")
        flags["server_kind"] = server_choice
    if only is not None:
        flags["only"] = parse_only(only)
        # the file may name replicas of groups another host runs; a flag may not
        left_out = [g for g in flags.get("replicas", {}) if g not in flags["only"]]
        if left_out:
            raise UsageError(f"--replicas names {', '.join(left_out)}, which --only "
                             f"{only} leaves out")
    return flags


def _report_up(home: Home, config: TopologyConfig, result: launch.UpResult,
               as_json: bool) -> None:
    from resonate_rpc_cli.view.console import out

    gateway = config.gateway_url if config.includes(GATEWAY) else None
    if as_json:
        emit_json({"home": str(home.root), "supervisor_pid": result.supervisor_pid,
                   "elapsed_s": round(result.elapsed_s, 3), "cleaned": result.cleaned,
                   "server": config.server_url, "server_kind": config.server_kind,
                   "gateway": gateway, "nodes": result.status.node_rows()})
        return
    if result.cleaned:
        out.print(f"cleaned {result.cleaned} leftover process(es) of an earlier run")
    where = f"server {config.server_url}" + (
        "" if config.starts_server else " (external, not started here)")
    out.print(f"[green]ready[/] in {result.elapsed_s:.1f}s: {where}, "
              f"gateway {gateway or '(not here)'}, {len(result.status.nodes)} nodes "
              f"(supervisor pid {result.supervisor_pid}, home {home.root})")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _foreground(home: Home, result: launch.UpResult) -> None:
    """Attach the live view to the topology we own; tear it down when it ends."""
    from resonate_rpc_cli.supervisor import launch
    from resonate_rpc_cli.view.console import err, out
    from resonate_rpc_cli.view.live import run_live

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
@exit_on_error
def down(ctx: typer.Context, *, as_json: JsonOpt = False) -> None:
    """Stop everything under HOME (TERM, grace, KILL). Exit 0 even if nothing ran."""
    from resonate_rpc_cli.supervisor import launch
    from resonate_rpc_cli.view.console import out

    result = launch.down(home_of(ctx))
    if as_json:
        emit_json(result)
    elif result["was_running"]:
        out.print("stopped")
    else:
        out.print(f"nothing was running under {home_of(ctx).root}" + (
            f"; ended {result['leftovers']} leftover process(es)" if result["leftovers"] else ""))


# -- the server alone ----------------------------------------------------------------

#: the flags' defaults are the server's own
_SERVER = ServerConfig()


@app.command()
@exit_on_error
def server(
    ctx: typer.Context,
    *,
    host: Annotated[str, typer.Option(help="Address to bind.")] = _SERVER.host,
    port: Annotated[int, typer.Option(help="Port to bind.")] = _SERVER.port,
    store: Annotated[Path | None, typer.Option(help="SQLite store "
        "(default HOME/store.sqlite).")] = None,
    memory: Annotated[bool, typer.Option(help="Keep state in memory only.")] = False,
    stream_lifetime: Annotated[float, typer.Option(help="End SSE streams after S seconds.")]
        = _SERVER.stream_lifetime_s,
    keepalive: Annotated[float, typer.Option(help="Keepalive interval on idle streams (s).")]
        = _SERVER.keepalive_s,
    hold_max: Annotated[int, typer.Option(help="Max messages held for absent listeners.")]
        = _SERVER.hold_max,
    hold_age: Annotated[float, typer.Option(help="Max age of a held message (s).")]
        = _SERVER.hold_age_s,
    max_body: Annotated[int, typer.Option(help="Largest accepted request body (bytes).")]
        = _SERVER.max_body_bytes,
    no_extras: Annotated[bool, typer.Option("--no-extras",
        help="Hide /rpcdemo/* like a real server.")] = False,
    fsync: Annotated[bool, typer.Option(help="fsync every commit.")] = False,
    retain: Annotated[str | None, typer.Option(metavar="DURATION",
        help="Drop call trees settled longer ago than this, e.g. 1h (default: keep "
        "everything; a re-sent id of a dropped flow starts it afresh).",
        show_default=False)] = None,
    auth_public_key: Annotated[Path | None, typer.Option(metavar="PEM",
        help="Verify Resonate tokens (head.auth, /poll's bearer) against this public key "
        "(RSA, EC or Ed25519): 401 without a valid one, 403 outside its prefix.")] = None,
    auth_iss: Annotated[str | None, typer.Option(help="Tokens must carry this iss.")] = None,
    auth_aud: Annotated[str | None, typer.Option(help="Tokens must carry this aud.")] = None,
) -> None:
    """Run only the embedded Resonate server in the foreground until Ctrl-C.

    Exit 3 when the port is in use or the store cannot be opened; exit 2 for a
    key file that holds no supported public key.
    """
    # imported here: the server pulls in aiohttp, which every other command can skip
    from resonate_rpc_cli.server.serve import serve

    if store is not None and memory:
        raise UsageError("--store and --memory cannot be used together")
    cv.checked("--port", cv.port, port)
    if min(stream_lifetime, keepalive, hold_age) <= 0 or min(hold_max, max_body) <= 0:
        raise UsageError("--stream-lifetime, --keepalive, --hold-* and --max-body must be > 0")
    if (auth_iss or auth_aud) and auth_public_key is None:
        raise UsageError("--auth-iss and --auth-aud need --auth-public-key")
    home = home_of(ctx)
    if not memory and store is None:
        home.ensure()
    chosen = None if memory else (store or home.store_path).absolute()
    serve(ServerConfig(host=host, port=port, store=chosen, stream_lifetime_s=stream_lifetime,
                       keepalive_s=keepalive, hold_max=hold_max, hold_age_s=hold_age,
                       max_body_bytes=max_body, extras=not no_extras, fsync=fsync,
                       retain_s=retain_seconds(retain), auth_public_key=auth_public_key,
                       auth_iss=auth_iss, auth_aud=auth_aud))


