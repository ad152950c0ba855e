"""The protocol conformance table (cases.py, cases_tasks.py) against real servers over HTTP.

One server per mode per module: ``rpcdemo server`` in memory and on a SQLite
store and, when ``RPCDEMO_RESONATE_SQL`` names a ``resonate.sql``,
resonate-pg behind our HTTP adapter (a status it answers differently is an
expected failure when pg_differences.py explains it, a failure otherwise).
Each case checks the status, the shape of the whole response against the Rust
server's types (schema.py, checked on every response in support.send), the
keys of the response data and, for a refusal, that nothing it names changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.procs import short_home
from tests.protocol.cases import PROMISE_CASES, Case
from tests.protocol.cases_tasks import SCHEDULE_CASES, TASK_CASES
from tests.protocol.pg_differences import PG_DIFFERENCES, PG_SKIPS
from tests.protocol.support import MODES, embedded, resonate_sql, send

pytestmark = pytest.mark.e2e

CASES = [*PROMISE_CASES, *TASK_CASES, *SCHEDULE_CASES]


@pytest.fixture(scope="module", params=MODES)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """``(mode, url)`` of a server of each mode, shared by the module's cases."""
    mode: str = request.param
    if mode == "resonate-pg":
        sql = resonate_sql()
        if sql is None:
            pytest.skip("RPCDEMO_RESONATE_SQL is not set (path of resonate-pg's resonate.sql)")
        from tests.protocol.pgadapter import adapter  # noqa: PLC0415 (psycopg only when asked)

        root = Path(tempfile.mkdtemp(prefix="rpcpg-"))
        os.chmod(root, 0o711)  # as root, Postgres runs as `postgres`, which must reach HOME
        try:
            with adapter(root / "home", sql) as url:
                yield mode, url
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return
    with short_home() as home, embedded(home, durable=mode == "durable") as url:
        yield mode, url


def snapshot(url: str, o: str) -> list[tuple[int, Any]]:
    """What the servers say about every id a case can touch."""
    ids = [o, *(f"{o}:{i}" for i in (1, 2, 9))]
    reads = [send(url, kind, {"id": i}) for i in ids for kind in ("promise.get", "task.get")]
    return [*reads, send(url, "schedule.get", {"id": o})]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(server: tuple[str, str], case: Case) -> None:
    mode, url = server
    if mode == "resonate-pg" and case.name in PG_SKIPS:
        pytest.skip(PG_SKIPS[case.name])
    o = f"{case.name.replace('_', '-')}-{mode}"
    version = 0
    for kind, data in case.setup(o):
        status, resp = send(url, kind, data)
        assert status < 400, f"setup {kind} {data} answered {status} {resp}"
        if isinstance(resp, dict) and isinstance(resp.get("task"), dict):
            version = resp["task"]["version"]
    allowed = case.status if isinstance(case.status, tuple) else (case.status,)
    refusal = min(allowed) >= 400
    before = snapshot(url, o) if refusal else []
    documented = mode == "resonate-pg" and case.name in PG_DIFFERENCES
    status, resp = send(url, case.kind, case.data(o, version), shape=not documented)
    if documented and status not in allowed:
        pytest.xfail(f"resonate-pg answers {status}: {PG_DIFFERENCES[case.name]}")
    assert status in allowed, f"{case.rule}: expected {case.status}, got {status} {resp}"
    for key in case.shape:
        assert isinstance(resp, dict) and key in resp, f"{case.rule}: no {key} in {resp}"
    if case.check is not None:
        assert case.check(resp), f"{case.rule}: unexpected {resp}"
    if refusal:
        assert snapshot(url, o) == before, f"refused {case.kind} changed the state"


def test_every_case_cites_its_rule() -> None:
    assert len({c.name for c in CASES}) == len(CASES)
    assert all(c.rule.startswith("src/") for c in CASES), [c.name for c in CASES]
