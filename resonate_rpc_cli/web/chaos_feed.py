"""The chaos run's timeline for the console, growing while ``rpcdemo chaos`` runs.

:class:`ChaosFeed` reads the progress the run publishes under HOME
(``chaos/progress.py``) and the ledgers of its call trees, and hands them to
the report's own drawing model (``view/chaos_timeline.py``, bounded by
``view/chaos_bound.py``): the page draws the same lanes, step bars, fault
bands and latency as ``report.html``, and the verdict once the checker gave
it. A missing or torn file is "no run", never an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resonate_rpc_cli.chaos.history import FaultRecord, Op
from resonate_rpc_cli.chaos.report import progress_path
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.view.chaos_bound import bound_model
from resonate_rpc_cli.view.chaos_timeline import timeline_model


def _ops(rows: Any) -> list[Op]:
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            out.append(Op(**row))
        except TypeError:
            continue
    return out


def _faults(rows: Any) -> list[FaultRecord]:
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            out.append(FaultRecord.from_dict(row))
        except (ValueError, TypeError, KeyError):
            continue
    return out


def chaos_view(doc: dict[str, Any], ledger: list[LedgerEntry]) -> dict[str, Any]:
    """The page's chaos part from one progress document and the run's ledger entries."""
    history, faults = _ops(doc.get("history")), _faults(doc.get("faults"))
    report = doc.get("report") if isinstance(doc.get("report"), dict) else None
    model = bound_model(timeline_model(report or {}, history, faults, ledger))
    return {"run_tag": doc.get("run_tag"), "state": doc.get("state"),
            "verdict": report.get("verdict") if report else None,
            "reasons": list(report.get("reasons", [])) if report else [],
            "ops_total": doc.get("ops_total", len(history)),
            "faults": len(faults), "model": model}


@dataclass
class LedgerTail:
    """The HOME's ledgers read incrementally: each file from where the last read stopped
    (whole lines only), so a long run costs the console its new lines, not all of them."""

    directory: Path
    entries: list[LedgerEntry] = field(default_factory=list)
    _offsets: dict[Path, int] = field(default_factory=dict)

    def read(self) -> list[LedgerEntry]:
        """Every entry so far (a torn or malformed line is skipped, never fatal)."""
        for path in sorted(self.directory.glob("*.jsonl")):
            start = self._offsets.get(path, 0)
            try:
                with path.open("rb") as fh:
                    fh.seek(start)
                    chunk = fh.read()
            except OSError:
                continue
            whole = chunk[:chunk.rfind(b"\n") + 1]
            self._offsets[path] = start + len(whole)
            for line in whole.splitlines():
                try:
                    self.entries.append(LedgerEntry.from_dict(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    continue
        return self.entries


@dataclass
class ChaosFeed:
    """The latest run against one HOME (read again only when its file changed or it runs)."""

    home: Home
    _seen: tuple[float, int] | None = None
    _view: dict[str, Any] | None = field(default=None)
    _ledger: LedgerTail | None = None

    def read(self) -> dict[str, Any] | None:
        """The chaos part now, or None when no run published anything here."""
        path = progress_path(self.home)
        try:
            info = path.stat()
        except OSError:
            self._seen, self._view = None, None
            return None
        stamp = (info.st_mtime, info.st_size)
        if stamp == self._seen and self._view is not None and self._view["state"] == "done":
            return self._view
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return self._view
        if not isinstance(doc, dict):
            return self._view
        roots = {op.promise_id for op in _ops(doc.get("history"))}
        self._ledger = self._ledger or LedgerTail(self.home.ledger_dir)
        ledger = [e for e in self._ledger.read() if origin_of(e.promise_id) in roots]
        self._seen, self._view = stamp, chaos_view(doc, ledger)
        return self._view
