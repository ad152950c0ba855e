"""`kill`, `respawn`, `heal`, `scale` and `node`: change what runs."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from resonate_rpc_cli.cli.common import (
    JsonOpt,
    app,
    emit_json,
    exit_on_error,
    home_of,
)
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.naming import (
    DEFAULT_DELAY_MODE,
    DEFAULT_SERVER_PORT,
    SERVICE_GROUPS,
)
from resonate_rpc_cli.supervisor.topology_config import DEFAULT_TTL_S, MAX_REPLICAS

# The supervisor's client, Rich (the views) and the foreground runner load inside the
# commands that use them (issue 21).

# -- kill / respawn ----------------------------------------------------------------------


@app.command()
@exit_on_error
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
    from resonate_rpc_cli.supervisor.client import SupervisorClient

    result = SupervisorClient(home_of(ctx)).kill(
        target, sig, count=count, respawn=respawn, respawn_after_s=respawn_after or 0.0)
    if as_json:
        emit_json({"killed": [k.to_dict() for k in result.killed],
                   "respawned": [n.to_dict() for n in result.respawned]})
    else:
        from resonate_rpc_cli.view.console import out
        from resonate_rpc_cli.view.render import kill_view

        out.print(kill_view(result))


@app.command("respawn")
@exit_on_error
def respawn_cmd(
    ctx: typer.Context,
    *,
    target: Annotated[str, typer.Argument(help="A group or a node that is down.")],
    as_json: JsonOpt = False,
) -> None:
    """Start a new incarnation of every node of TARGET that is down (killed or failed)."""
    from resonate_rpc_cli.supervisor.client import SupervisorClient

    respawned = [n.to_dict() for n in SupervisorClient(home_of(ctx)).respawn(target).running]
    if as_json:
        emit_json({"respawned": respawned})
    else:
        from resonate_rpc_cli.view.console import out

        for node in respawned:
            out.print(f"respawned [bold green]{node['name']}[/] (pid {node['pid']})")


@app.command("heal")
@exit_on_error
def heal_cmd(
    ctx: typer.Context,
    *,
    target: Annotated[str | None, typer.Argument(
        help="A node or a group whose faults to heal (default: with --all, every one).")]
        = None,
    heal_all: Annotated[bool, typer.Option("--all", help="Heal every fault in force.")]
        = False,
    as_json: JsonOpt = False,
) -> None:
    """Heal the faults in force now: resume a paused node, respawn a killed one, heal a link.

    Every fault (chaos's, `net`'s) is a lease the supervisor holds, healed by
    itself at its deadline or once its holder is gone; `heal` ends it now.
    `status` lists them with their holder and time left.
    """
    if (target is None) == (not heal_all):
        raise UsageError("name a NODE (or a group) to heal, or --all for every fault")
    from resonate_rpc_cli.supervisor.client import SupervisorClient

    healed = SupervisorClient(home_of(ctx)).heal(target)
    if as_json:
        emit_json({"healed": [h.to_dict() for h in healed]})
    else:
        from resonate_rpc_cli.view.console import out
        from resonate_rpc_cli.view.faults import healed_text

        out.print(healed_text(healed))


# -- shape: scale and foreground nodes ---------------------------------------------------


@app.command()
@exit_on_error
def scale(
    ctx: typer.Context,
    *,
    group: Annotated[str, typer.Argument(help="A group, e.g. service-b (or a declared one).")],
    count: Annotated[int, typer.Argument(
        help=f"Nodes it should run from now on (0..{MAX_REPLICAS}).")],
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
    from resonate_rpc_cli.supervisor.client import SupervisorClient
    from resonate_rpc_cli.supervisor.topology_config import check_replicas

    check_replicas(group, count, (group,))  # the count here; the group by the running topology
    result = SupervisorClient(home_of(ctx)).scale(group, count, wait_s=timeout)
    if as_json:
        emit_json({"group": group, "replicas": count, "added": result.added,
                   "removed": result.removed, "respawned": result.respawned,
                   "nodes": [{k: n.to_dict()[k] for k in ("name", "pid", "node_id", "state")}
                             for n in result.nodes]})
        return
    from resonate_rpc_cli.view.console import out

    out.print(f"{group}: {count} node(s)" + (
        f"; started {', '.join(result.added)}" if result.added else "") + (
        f"; stopped {', '.join(result.removed)}" if result.removed else "") + (
        f"; respawned {', '.join(result.respawned)}" if result.respawned else ""))


@app.command()
@exit_on_error
def node(
    ctx: typer.Context,
    *,
    group: Annotated[str, typer.Argument(help="The group to serve, e.g. service-b (or one "
        "the topology file declares).")],
    server_url: Annotated[str, typer.Option("--server-url", envvar="RESONATE_URL",
        help="The Resonate server to join.")] = f"http://127.0.0.1:{DEFAULT_SERVER_PORT}",
    count: Annotated[int, typer.Option(help=f"How many nodes of GROUP (1..{MAX_REPLICAS}).")] = 1,
    ttl: Annotated[float, typer.Option(help="Lease TTL of each node, in seconds.")]
        = DEFAULT_TTL_S,
    step_delay: Annotated[float, typer.Option(help="Seconds every step takes.")] = 0.0,
    delay_mode: Annotated[str, typer.Option(help="work or sleep (see `up --help`).")] \
        = DEFAULT_DELAY_MODE,
    as_json: JsonOpt = False,
) -> None:
    """Run COUNT nodes of one group in the foreground, on any host, against a running server.

    No supervisor is needed: this command restarts nodes that crash and
    stops them all on Ctrl-C/TERM (and they exit if it is killed). Logs and
    ledgers go under HOME. Exit 3 when the server does not answer or every
    node fails; 2 for an unknown group or a HOME that runs a topology.
    """
    from resonate_rpc_cli.cli.topology_file import load_config_file
    from resonate_rpc_cli.observe.events import describe
    from resonate_rpc_cli.supervisor import foreground as nodecmd
    from resonate_rpc_cli.supervisor.app_launch import check_programs
    from resonate_rpc_cli.supervisor.topology_config import (
        EXTERNAL_SERVER,
        TopologyConfig,
        validate_config,
    )

    # a declared application's groups come from its file (--config, or ./rpcdemo.toml)
    declared = load_config_file(ctx.meta.get("config_path")).app
    groups = declared.group_names if declared is not None else tuple(SERVICE_GROUPS)
    if group not in groups:
        raise UsageError(f"unknown group {group!r}; valid groups: {', '.join(groups)}")
    if not 1 <= count <= MAX_REPLICAS:
        raise UsageError(f"--count must be from 1 to {MAX_REPLICAS}, got {count}")
    config = validate_config(TopologyConfig(
        server_kind=EXTERNAL_SERVER, server_url=server_url, only=[group], replicas={group: count},
        ttl_s=ttl, step_delay_s=step_delay, delay_mode=delay_mode, app=declared))
    if declared is not None:
        check_programs(declared)
    emit = (lambda event: typer.echo(json.dumps(event.to_dict()))) if as_json else \
        (lambda event: typer.echo(describe(event)))
    code = nodecmd.run_nodes(home_of(ctx), config, emit)
    if code:
        raise typer.Exit(code)


