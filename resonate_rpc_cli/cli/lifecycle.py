"""`up`, `down` and `server`: start and stop a topology, or the embedded server alone."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from resonate_rpc_cli.cli.common import (
    JsonOpt,
    app,
    emit_json,
    exit_on_error,
    home_of,
)
from resonate_rpc_cli.cli.options import setting_options
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import GATEWAY
from resonate_rpc_cli.contracts.settings import build, validate
from resonate_rpc_cli.server.config import ServerConfig, check_auth, with_store
from resonate_rpc_cli.supervisor.topology_config import (
    DEFAULT_UP_TIMEOUT_S,
    TopologyConfig,
    validate_config,
)

if TYPE_CHECKING:  # launching, the topology file and Rich load when a command runs (issue 21)
    from collections.abc import Callable

    from resonate_rpc_cli.supervisor import updown


@app.command()
@exit_on_error
@setting_options(TopologyConfig, overrides=True)
def up(
    ctx: typer.Context,
    *,
    detach: Annotated[bool, typer.Option("--detach", "-d",
        help="Return once every node is ready; leave the supervisor running.")] = False,
    settings: dict[str, object],
    config_path: Annotated[Path | None, typer.Option("--config",
        help="Topology file (default ./rpcdemo.toml when present).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")]
        = DEFAULT_UP_TIMEOUT_S,
    as_json: JsonOpt = False,
    ui: Annotated[bool, typer.Option("--ui",
        help="Also serve the browser console (as `rpcdemo ui`) while the topology runs in "
             "the foreground; its URL is printed.")] = False,
    ui_host: Annotated[str, typer.Option("--ui-host",
        help="With --ui: the console's address (beyond 127.0.0.1 only when asked).")]
        = "127.0.0.1",
    ui_port: Annotated[int, typer.Option("--ui-port",
        help="With --ui: the console's port (0: a free one).")] = 0,
) -> None:
    """Start the server, the gateway and the service nodes (one per group by default).

    Waits until every node is ready, then shows the live view (Ctrl-C stops
    everything) or, with --detach, returns 0 and leaves the topology running.
    With --ui the browser console is served too (not with --detach: attach one
    to a detached topology with `rpcdemo ui`).
    A port in use is an error (exit 3) and nothing is left running. Flags
    override the topology file (./rpcdemo.toml or --config) field by field.
    """
    from resonate_rpc_cli.backends.base import is_loopback
    from resonate_rpc_cli.cli.topology_file import load_config_file, merge_settings
    from resonate_rpc_cli.supervisor import updown
    from resonate_rpc_cli.view.console import err

    # the file may name replicas of groups another host runs; a flag may not
    replicas, only = settings.get("replicas"), settings.get("only")
    if isinstance(replicas, dict) and isinstance(only, list):
        left_out = [str(g) for g in replicas if g not in only]
        if left_out:
            raise UsageError(f"--replicas names {', '.join(left_out)}, which --only "
                             f"{','.join(map(str, only))} leaves out")
    file = load_config_file(config_path or ctx.meta.get("config_path"))
    config = validate_config(build(TopologyConfig, merge_settings(file, settings)))
    home = home_of(ctx)
    if ui:
        from resonate_rpc_cli.cli.ui_cmd import check_address

        if detach:
            raise UsageError("--ui serves the console from the foreground; for a detached "
                             "topology run `rpcdemo ui`")
        check_address(ui_host, ui_port)
    if config.insecure and not config.auth and not is_loopback(config.host):
        err.print(f"[yellow]insecure:[/] the server listens on {config.host} without tokens: "
                  "anyone who reaches it can read, settle or cancel every promise and run "
                  "or fail any step (use --auth)")
    if not detach:
        _load_foreground_modules(ui)
        signal.signal(signal.SIGTERM, _interrupt)
    result = updown.up(home, config, detach=detach, timeout_s=timeout)
    if detach:
        _report_up(home, config, result, as_json)
        return
    _foreground(home, result, (ui_host, ui_port) if ui else None,
                announce=lambda: _report_up(home, config, result, as_json))


def _report_up(home: Home, config: TopologyConfig, result: updown.UpResult,
               as_json: bool) -> None:
    from resonate_rpc_cli.view.console import out

    gateway = config.gateway_url if config.includes(GATEWAY) else None
    if as_json:
        emit_json({"home": str(home.root), "supervisor_pid": result.supervisor_pid,
                   "elapsed_s": round(result.elapsed_s, 3), "cleaned": result.cleaned,
                   "server": config.server_url, "server_kind": config.server_kind,
                   "gateway": gateway, "nodes": [n.to_dict() for n in result.status.nodes]})
        return
    if result.cleaned:
        out.print(f"cleaned {result.cleaned} leftover process(es) of an earlier run")
    where = f"server {config.server_url}" + (
        "" if config.starts_server else " (external, not started here)")
    out.print(f"[green]ready[/] in {result.elapsed_s:.1f}s: {where}, "
              f"gateway {gateway or '(not here)'}, {len(result.status.nodes)} nodes "
              f"(supervisor pid {result.supervisor_pid}, home {home.root})")


def _load_foreground_modules(ui: bool) -> None:
    """Import what the foreground needs once the topology runs, before it is started.

    A Ctrl-C raises :class:`KeyboardInterrupt` wherever the main thread is; inside an
    extension module's initialisation (aiohttp's, Rich's dependencies) CPython then marks
    the interpreter as ended by an uncaught Ctrl-C even though ``_foreground`` catches it,
    and the process dies by SIGINT (-2) after a complete teardown. Imported here, a Ctrl-C
    among them stops ``up`` before anything was started.
    """
    import resonate_rpc_cli.observe.live
    import resonate_rpc_cli.view.console
    import resonate_rpc_cli.view.live

    if ui:
        import resonate_rpc_cli.cli.ui_cmd
        import resonate_rpc_cli.web.serve  # noqa: F401


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _foreground(home: Home, result: updown.UpResult,
                console_at: tuple[str, int] | None = None,
                announce: Callable[[], None] = lambda: None) -> None:
    """Announce the topology we own, attach the live view (and with ``console_at`` the
    browser console) to it, and tear it down when it ends.

    Everything after ``updown.up`` returned runs inside one ``try``: a Ctrl-C that comes
    while the ready line is printed or the views start still takes the topology down
    here, not only by the daemon noticing its parent has gone. (The views' modules are
    loaded before the topology starts: :func:`_load_foreground_modules`.)
    """
    from resonate_rpc_cli.supervisor import updown
    from resonate_rpc_cli.view.console import err

    console = None
    try:
        announce()
        from resonate_rpc_cli.observe.live import LiveModel
        from resonate_rpc_cli.view.console import out
        from resonate_rpc_cli.view.live import run_live

        # one model for both views: the terminal's refreshes it, the page reads it
        model = LiveModel(home) if out.is_terminal else None
        if console_at is not None:
            from resonate_rpc_cli.cli.ui_cmd import announce as announce_console
            from resonate_rpc_cli.web.serve import ConsoleThread

            console = ConsoleThread(home, *console_at, model=model)
            announce_console(console.start(), "the console and the topology")
        if out.is_terminal:
            run_live(home, out, model=model)
        else:
            while result.daemon is not None and result.daemon.poll() is None:
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        # the teardown runs to its end: another Ctrl-C or TERM now changes nothing (a
        # kill -9 still works, and the daemon's lifeline then ends the rest). Ignored, not
        # caught by a Python function: the interpreter's finalization puts such handlers
        # back to the default, and a signal then would end this process by SIGINT (-2)
        # after a complete teardown.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if console is not None:
            console.stop()
        err.print("stopping…")
        updown.down(home)
        if result.daemon is not None:
            result.daemon.wait(10)


@app.command()
@exit_on_error
def down(ctx: typer.Context, *, as_json: JsonOpt = False) -> None:
    """Stop everything under HOME (TERM, grace, KILL). Exit 0 even if nothing ran."""
    from resonate_rpc_cli.supervisor import updown
    from resonate_rpc_cli.view.console import out

    result = updown.down(home_of(ctx))
    if as_json:
        emit_json(result.to_dict())
    elif result.was_running:
        out.print("stopped")
    else:
        out.print(f"nothing was running under {home_of(ctx).root}" + (
            f"; ended {result.leftovers} leftover process(es)" if result.leftovers else ""))


# -- the server alone ----------------------------------------------------------------

@app.command()
@exit_on_error
@setting_options(ServerConfig, overrides=False)
def server(ctx: typer.Context, *, settings: dict[str, object]) -> None:
    """Run only the embedded Resonate server in the foreground until Ctrl-C.

    Exit 3 when the port is in use or the store cannot be opened; exit 2 for a
    key file that holds no supported public key.
    """
    # imported here: the server pulls in aiohttp, which every other command can skip
    from resonate_rpc_cli.server.serve import serve

    config = check_auth(build(ServerConfig, settings))
    validate(config)
    home = home_of(ctx)
    in_home = not config.memory and config.store is None
    serve(with_store(config, home.store_path), prepare=home.ensure if in_home else None)
