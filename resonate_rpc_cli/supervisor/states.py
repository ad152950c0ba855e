"""A node's lifecycle as an explicit enum with checked transitions.

``pending`` (not started yet) → ``starting`` (spawned, not ready) → ``ready``.
A running node can be ``paused`` (SIGSTOP; still alive), ``killed`` by the
operator (stays down until respawned), or exit on its own, which puts it in
``backoff`` until it is restarted, or ``failed`` after too many quick failures.
``stopping``/``stopped`` belong to shutdown. Any other move is a bug and
raises :class:`InvalidTransition`.
"""

from __future__ import annotations

from enum import StrEnum


class NodeState(StrEnum):
    PENDING = "pending"
    STARTING = "starting"
    READY = "ready"
    PAUSED = "paused"
    KILLED = "killed"
    BACKOFF = "backoff"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"

    @property
    def alive(self) -> bool:
        """Whether a process is expected to exist in this state."""
        return self in ALIVE


_S = NodeState
#: a process is expected to exist
ALIVE = frozenset({_S.STARTING, _S.READY, _S.PAUSED, _S.STOPPING})
#: running nodes the operator may signal (``kill``)
SIGNALLABLE = frozenset({_S.STARTING, _S.READY, _S.PAUSED})
#: down until someone acts: ``respawn`` starts these again
RESPAWNABLE = frozenset({_S.KILLED, _S.FAILED, _S.BACKOFF})
#: down and not coming back by itself (``scale`` respawns kept slots in these)
STAYS_DOWN = frozenset({_S.KILLED, _S.FAILED})
#: exited on its own (restarting later, or given up)
EXITED = frozenset({_S.BACKOFF, _S.FAILED})
#: shutdown has reached the node
SHUT = frozenset({_S.STOPPING, _S.STOPPED})
#: no process to show a pid for
NO_PROCESS = frozenset({_S.KILLED, _S.STOPPED})
TRANSITIONS: dict[NodeState, frozenset[NodeState]] = {
    _S.PENDING: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STARTING: frozenset({_S.READY, _S.PAUSED, _S.KILLED, _S.BACKOFF, _S.FAILED, _S.STOPPING}),
    _S.READY: frozenset({_S.PAUSED, _S.KILLED, _S.BACKOFF, _S.FAILED, _S.STOPPING}),
    _S.PAUSED: frozenset({_S.READY, _S.STARTING, _S.KILLED, _S.BACKOFF, _S.FAILED, _S.STOPPING}),
    _S.KILLED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.BACKOFF: frozenset({_S.STARTING, _S.KILLED, _S.STOPPED}),
    _S.FAILED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STOPPING: frozenset({_S.STOPPED}),
    _S.STOPPED: frozenset(),
}


class InvalidTransition(Exception):
    """A state change the lifecycle does not allow (a supervisor bug)."""


def check_transition(current: NodeState, new: NodeState) -> NodeState:
    """Return ``new`` if ``current → new`` is allowed; raise :class:`InvalidTransition`."""
    if new not in TRANSITIONS[current]:
        raise InvalidTransition(f"{current} -> {new}")
    return new
