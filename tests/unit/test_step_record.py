"""rpcdemo's Python step helper (contracts/step_record.py): ledger lines the checker reads,
and nothing at all outside rpcdemo."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from resonate_rpc_cli.contracts.ledger import LedgerEntry, read_ledger
from resonate_rpc_cli.contracts.step_record import ledger_path, recorded


@recorded
async def debit(ctx: Any, order_id: str, amount: int) -> dict[str, Any]:
    return {"charge": f"ch-{order_id}", "amount": amount}


@recorded
def count(ctx: Any, sku: str) -> int:
    return 5


CTX = SimpleNamespace(info=SimpleNamespace(id="root:1.1"))


def test_each_run_writes_start_and_end_in_the_ledger_format(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPCDEMO_HOME", str(tmp_path))
    monkeypatch.delenv("RPCDEMO_LEDGER_DIR", raising=False)
    monkeypatch.setenv("RPCDEMO_NODE", "payments-1")
    monkeypatch.setenv("RPCDEMO_NODE_ID", "abc")
    assert asyncio.run(debit(CTX, "o-1", 20)) == {"charge": "ch-o-1", "amount": 20}
    assert count(CTX, "gadget") == 5
    path = tmp_path / "ledger" / "payments-1.abc.jsonl"
    entries = [LedgerEntry.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
    assert [(e.phase, e.func, e.step_id, e.node) for e in entries] == [
        ("start", "debit", "root:1.1", "payments-1"), ("end", "debit", "root:1.1", "payments-1"),
        ("start", "count", "root:1.1", "payments-1"), ("end", "count", "root:1.1", "payments-1")]
    assert entries[1].value == {"charge": "ch-o-1", "amount": 20}
    assert len(list(read_ledger(tmp_path / "ledger"))) == 4
    assert debit.__name__ == "debit"  # the SDK registers and dispatches by name


def test_outside_rpcdemo_nothing_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RPCDEMO_HOME", "RPCDEMO_LEDGER_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert ledger_path() is None
    assert count(CTX, "gadget") == 5
