"""Which ``execute`` message went to which listener, and when: no duplicates to one process.

The server re-sends ``execute`` for the pending tasks of a group when a member
connects (server restart, a late joiner). A process must not get the same
``execute`` twice from that: two messages for one task in one process were
two executions side by side before acquires were one-lease (issue 18).
:class:`ExecuteLog` remembers the last ``execute`` per task and answers
whether a re-send to a listener would be a duplicate:

* it went out less than :data:`RESEND_AFTER_S` ago to a member still
  connected (it is probably being acquired), or
* it went, at the same version, to the same process (pid) less than
  :data:`SAME_PROCESS_S` ago: that process has it, or it was never written
  and went back through routing (:meth:`ExecuteLog.rerouted`).

Only the pending-task retry (every 30 s, as on a real server) sends one
process the same ``execute`` twice; the acquire of the second is refused.
"""

from __future__ import annotations

from typing import Any

from resonate.connections.local import PENDING_RETRY_TTL

from resonate_rpc_cli.server.delivery import Listener, Push

RESEND_AFTER_S = 1.0
SAME_PROCESS_S = PENDING_RETRY_TTL / 1000


class ExecuteLog:
    """task id → (when, listener, version) of its last ``execute``."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[float, Listener, int]] = {}
        self._forget_above = 1024

    def sent(self, task_id: str, listener: Listener, version: int, now: float) -> None:
        self.last[task_id] = (now, listener, version)

    def has_it(self, task_id: str, listener: Listener, version: int, now: float) -> bool:
        """Whether sending ``execute`` (``task_id``, ``version``) to ``listener`` is a duplicate."""
        last = self.last.get(task_id)
        if last is None:
            return False
        at, to, sent_version = last
        if now - at < RESEND_AFTER_S and not to.closed:
            return True
        return to.pid == listener.pid and sent_version == version and now - at < SAME_PROCESS_S

    def rerouted(self, moved: list[tuple[Push, Listener | None]]) -> None:
        """Note where a closed stream's unwritten ``execute`` messages went; one dropped
        (no member to take it) is forgotten, so a reconnect of that process gets it again."""
        for push, target in moved:
            last = self.last.get(push.task_id) if push.task_id is not None else None
            if last is None or push.task_id is None:
                continue
            if target is None:
                del self.last[push.task_id]
            else:
                self.last[push.task_id] = (last[0], target, last[2])

    def forget_old(self, now: float) -> None:
        """Drop entries too old to matter (amortized: the map would grow with every task)."""
        if len(self.last) > self._forget_above:
            self.last = {k: v for k, v in self.last.items() if now - v[0] < SAME_PROCESS_S}
            self._forget_above = max(1024, 2 * len(self.last))


def execute_of(message: Any) -> tuple[str, int] | None:
    """``(task id, version)`` of an ``execute`` message, else ``None``."""
    if not isinstance(message, dict) or message.get("kind") != "execute":
        return None
    data = message.get("data")
    task = data.get("task") if isinstance(data, dict) else None
    if not isinstance(task, dict) or not isinstance(task.get("id"), str):
        return None
    version = task.get("version")
    return str(task["id"]), version if isinstance(version, int) else -1
