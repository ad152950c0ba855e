"""The transition journal stays bounded: past its size it moves to PATH.1, and the
chaos checker's reader reads both halves in order; it records a grant only once the
store kept it."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonate_rpc_cli.chaos.history import read_journal
from resonate_rpc_cli.server.engine import Engine
from resonate_rpc_cli.server.journal import TransitionJournal, rotated_path
from resonate_rpc_cli.server.store import Store


def grant(journal: TransitionJournal, task: str, version: int) -> None:
    journal.granted("task.acquire", {"id": task, "state": "acquired", "version": version,
                                     "pid": "p"})
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


def test_a_grant_the_store_did_not_keep_is_not_journaled(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A server killed between its journal and its store must not leave a journaled grant
    that a restarted server (which never kept it) hands out again: the chaos checker would
    see two live leases that no two holders ever had."""
    engine = Engine(store=Store.open(tmp_path / "s.sqlite"))
    journal_path = tmp_path / "transitions.jsonl"
    engine.keep_journal(journal_path)
    created, _ = engine.apply({"kind": "promise.create", "id": "p", "timeoutAt": 10**13,
                               "param": {}, "tags": {"resonate:target": "poll://any@g"}}, 1)
    assert created["status"] == 201
    kept = journal_path.read_text()

    def killed(*_: object) -> None:
        raise KeyboardInterrupt("killed before the store wrote")

    monkeypatch.setattr(engine.store, "append", killed)
    with pytest.raises(KeyboardInterrupt):
        engine.apply({"kind": "task.acquire", "id": "p", "version": 0, "pid": "w",
                      "ttl": 5000}, 2)
    assert journal_path.read_text() == kept  # no line for the lease the store lost
    monkeypatch.undo()
    engine.commit()  # the store keeps it now: then, and only then, the journal says so
    engine.close()
    lines = journal_path.read_text()[len(kept):]
    assert '"grant":"task.acquire"' in lines, lines
