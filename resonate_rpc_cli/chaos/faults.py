"""The fault log: what the nemesis actually did, one record per planned fault."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FaultRecord:
    """One fault as it happened.

    ``landed`` is true only once the fault was confirmed (the pid really died,
    or really stopped). ``held`` lists the task (promise) ids the victim held
    at that moment (empty if it held none, or for gateway/server faults).
    ``targets`` names every node the fault hit (its scope may take several;
    ``target`` is the first) and ``os_pids`` their pids.
    Times are wall-clock milliseconds; ``healed_ms`` is when the respawn,
    resume or restart completed. ``error`` says why a fault did not land or
    did not heal.
    """

    index: int
    kind: str
    target: str
    group: str
    planned_at_s: float
    down_s: float
    at_ms: int | None = None
    os_pid: int | None = None
    node_id: str | None = None
    landed: bool = False
    confirmed_ms: int | None = None
    held: list[str] = field(default_factory=list)
    heal: str | None = None
    healed_ms: int | None = None
    new_pid: int | None = None
    error: str | None = None
    targets: list[str] = field(default_factory=list)
    os_pids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> FaultRecord:
        """Build a record from its JSON form; raise ``ValueError`` if malformed."""
        try:
            return cls(
                index=int(obj["index"]),
                kind=str(obj["kind"]),
                target=str(obj["target"]),
                group=str(obj["group"]),
                planned_at_s=float(obj["planned_at_s"]),
                down_s=float(obj["down_s"]),
                at_ms=_opt_int(obj.get("at_ms")),
                os_pid=_opt_int(obj.get("os_pid")),
                node_id=obj.get("node_id"),
                landed=bool(obj.get("landed", False)),
                confirmed_ms=_opt_int(obj.get("confirmed_ms")),
                held=[str(h) for h in obj.get("held", [])],
                heal=obj.get("heal"),
                healed_ms=_opt_int(obj.get("healed_ms")),
                new_pid=_opt_int(obj.get("new_pid")),
                error=obj.get("error"),
                targets=[str(t) for t in obj.get("targets") or []],
                os_pids=[int(p) for p in obj.get("os_pids") or []],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed fault record: {obj!r}") from exc


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
