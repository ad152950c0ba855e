"""The chaos run's timeline for the console, growing while ``rpcdemo chaos`` runs.

:class:`ChaosFeed` reads the progress the run publishes under HOME
(``chaos/report.py``) and the ledgers of its call trees, and hands them to
the report's own drawing model (``view/chaos_timeline.py``, bounded by
``view/chaos_bound.py``): the page draws the same lanes, step bars, fault
bands and latency as ``report.html``, and the verdict once the checker gave
it. A missing or torn file is "no run", never an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, cast

from resonate_rpc_cli.chaos.history import FaultRecord, Op
from resonate_rpc_cli.chaos.report import ChaosReport, progress_path
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.ids import origin_of
from resonate_rpc_cli.contracts.ledger import LedgerEntry
from resonate_rpc_cli.view.chaos_bound import bound_model
from resonate_rpc_cli.view.chaos_timeline import TimelineModel, timeline_model


class ChaosView(TypedDict):
    """The page's chaos part (``verdict`` and ``reasons`` once the checker judged)."""

    run_tag: str | None
    state: str | None
    verdict: str | None
    reasons: list[str]
    ops_total: int
    faults: int
    model: TimelineModel


def _ops(rows: object) -> list[Op]:
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            out.append(Op(**row))
        except TypeError:
            continue
    return out


def _faults(rows: object) -> list[FaultRecord]:
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            out.append(FaultRecord.from_dict(row))
        except (ValueError, TypeError, KeyError):
            continue
    return out


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def chaos_view(doc: Mapping[str, object], ledger: list[LedgerEntry]) -> ChaosView:
    """The page's chaos part from one progress document (as read: any JSON object) and the
    run's ledger entries."""
    history, faults = _ops(doc.get("history")), _faults(doc.get("faults"))
    judged = doc.get("report")
    report = cast("ChaosReport", judged) if isinstance(judged, dict) else None
    model = bound_model(timeline_model(report, history, faults, ledger))
    ops_total = doc.get("ops_total")
    return {"run_tag": _text(doc.get("run_tag")), "state": _text(doc.get("state")),
            "verdict": report.get("verdict") if report else None,
            "reasons": list(report.get("reasons", [])) if report else [],
            "ops_total": ops_total if isinstance(ops_total, int) else len(history),
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
    _view: ChaosView | None = field(default=None)
    _ledger: LedgerTail | None = None

    def read(self) -> ChaosView | None:
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
