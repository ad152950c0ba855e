"""The transition journal stays bounded: past its size it moves to PATH.1, and the
chaos checker's reader reads both halves in order."""

from __future__ import annotations

from pathlib import Path

from resonate_rpc_cli.chaos.invariants import read_journal
from resonate_rpc_cli.server.journal import TransitionJournal, rotated_path


def grant(journal: TransitionJournal, task: str, version: int) -> None:
    journal.granted("task.acquire", {"status": 200, "task": {
        "id": task, "state": "acquired", "version": version, "pid": "p"}})
    journal.flush()


def test_a_full_journal_rotates_and_the_reader_sees_both_halves(tmp_path: Path) -> None:
    path = tmp_path / "transitions.jsonl"
    journal = TransitionJournal(path, max_bytes=400)
    for v in range(1, 13):
        grant(journal, "t", v)
    journal.close()
    older = rotated_path(path)
    assert older.exists(), "no rotation happened"
    assert path.stat().st_size <= 400 + 200 and older.stat().st_size > 400
    events = read_journal(path, since_ms=0)
    assert events is not None
    versions = [e.get("version") or 0 for e in events]
    # at most two halves are kept: what survives is the newest, still in order
    assert versions == sorted(versions) and versions[-1] == 12, versions


def test_no_journal_is_none_and_a_rotated_one_alone_is_read(tmp_path: Path) -> None:
    path = tmp_path / "transitions.jsonl"
    assert read_journal(path, since_ms=0) is None
    rotated_path(path).write_text('{"t": 5, "task": "a", "version": 1, "pid": "p", '
                                  '"grant": "task.acquire"}\n', encoding="utf-8")
    assert read_journal(path, since_ms=0) == [
        {"t": 5, "task": "a", "version": 1, "pid": "p", "grant": "task.acquire"}]
    assert read_journal(path, since_ms=6) == []
