"""The report of a chaos run: its files, and its progress published while the run goes.

The report directory (written by ``session.py``) holds :data:`REPORT_FILE`
(the verdict and what the run measured), :data:`HISTORY_FILE`,
:data:`FAULTS_FILE`, :data:`SCHEDULE_FILE` and :data:`HTML_FILE`.

While the run goes, :class:`RunProgress` rewrites ``HOME/run/chaos.json`` once a second from a
daemon thread when something happened: the run's tag, the history so far (the
latest :data:`MAX_OPS` operations: a long run's page shows its last minutes;
``report.html`` has it all) and the fault log so far; :func:`publish_verdict`
adds the report once the checker judged the run. The console reads the file
and draws the report's timeline from it (``web/chaos_feed.py``); nothing
else depends on it, so a failed write is skipped, never fatal to the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from resonate_rpc_cli.chaos.history import FaultRecord, History
from resonate_rpc_cli.contracts.home import Home

REPORT_FILE = "report.json"
HISTORY_FILE = "history.jsonl"
FAULTS_FILE = "faults.jsonl"
SCHEDULE_FILE = "schedule.json"
HTML_FILE = "report.html"
#: The latest operations the progress file keeps.
MAX_OPS = 3000


def progress_path(home: Home) -> Path:
    """Where the latest chaos run against ``home``'s topology publishes its progress."""
    return home.run_dir / "chaos.json"


def _write_atomic(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(doc, separators=(",", ":"), default=str), encoding="utf-8")
        os.replace(tmp, path)


@dataclass
class RunProgress:
    """The writer thread of one run (``start``, then ``stop`` once the workload ended)."""

    path: Path
    run_tag: str
    started_ms: int
    history: History
    faults: Callable[[], list[FaultRecord]]
    period_s: float = 1.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def document(self, state: str) -> dict[str, Any]:
        """The file's content now (``state``: ``running`` or ``checking``)."""
        ops = self.history.ops()
        return {"run_tag": self.run_tag, "started_ms": self.started_ms, "state": state,
                "ops_total": len(ops), "history": [asdict(op) for op in ops[-MAX_OPS:]],
                "faults": [f.to_dict() for f in self.faults()], "report": None}

    def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomic(self.path, self.document("running"))
        self._thread = threading.Thread(target=self._loop, name="chaos-progress", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        last: tuple[int, str] | None = None
        while not self._stop.wait(self.period_s):
            # written again only when an operation or a fault changed (cheap to compare)
            seen = (len(self.history), repr(self.faults()))
            if seen != last:
                last = seen
                _write_atomic(self.path, self.document("running"))

    def stop(self) -> None:
        """Stop the thread and write the whole run's operations (``checking``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        _write_atomic(self.path, self.document("checking"))


def publish_verdict(home: Home, run_tag: str, report: dict[str, Any]) -> None:
    """Add the judged report to the progress of run ``run_tag`` (``state: done``)."""
    path = progress_path(home)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(doc, dict) and doc.get("run_tag") == run_tag:
        _write_atomic(path, {**doc, "state": "done", "report": report})
