"""e2e: `rpcdemo promise` and `rpcdemo flow` on resonate-pg (a cluster under HOME), the
checks of test_promise_actions.py: settles go through the schema's own `resonate_rpc`.

Runs only when ``RPCDEMO_RESONATE_SQL`` names resonate-pg's schema file (as
test_postgres.py); rpcdemo never ships it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e._cli_support import Cli, end_leftovers, new_cli
from tests.e2e._promise_support import (
    TOPOLOGY,
    check_cancel_mid_step,
    check_human_in_the_loop,
    check_steps_of_a_finished_chain,
    start_chain,
)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    not os.environ.get("RPCDEMO_RESONATE_SQL", "").strip(),
    reason="set RPCDEMO_RESONATE_SQL=/path/to/resonate.sql (from "
    "github.com/resonatehq/resonate-pg) to run the Postgres e2e tests")]


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    # a temp dir the cluster's user may search (0711): as root Postgres runs as `postgres`
    root = Path(tempfile.mkdtemp(prefix="rpcpg-"))
    os.chmod(root, 0o711)
    c = new_cli(root / "home")
    try:
        sql = os.environ["RPCDEMO_RESONATE_SQL"].strip()
        up = c.run(*c.up_args("--detach", "--server", "postgres", "--resonate-sql", sql,
                              "--ttl", "5", "--timeout", "180", *TOPOLOGY), timeout=240)
        assert up.returncode == 0, (up.stdout[-2000:], up.stderr[-2000:])
        yield c
    finally:
        c.run("down", timeout=60)
        left = end_leftovers(c.home)
        shutil.rmtree(root, ignore_errors=True)
        assert not left, left


def test_a_human_in_the_loop_promise_is_settled_by_hand(cli: Cli) -> None:
    url = cli.json("status")["server"]["url"]
    stamp = time.time_ns()
    ids = (f"approval-a-{stamp}", f"approval-b-{stamp}", f"approval-c-{stamp}")
    with psycopg.connect(url, autocommit=True) as conn:
        for pid in ids:  # what a workflow awaiting a person's answer creates
            req = {"kind": "promise.create", "head": {"corrId": pid, "version": "2026-04-01"},
                   "data": {"id": pid, "param": {}, "tags": {},
                            "timeoutAt": int(time.time() * 1000) + 3_600_000}}
            row = conn.execute("SELECT resonate.resonate_rpc(%s::jsonb)",
                               (json.dumps(req),)).fetchone()
            assert row is not None and row[0]["head"]["status"] == 200, row
    check_human_in_the_loop(cli, ids)


def test_a_chain_canceled_mid_step_keeps_its_settled_children(cli: Cli) -> None:
    check_cancel_mid_step(cli, start_chain(cli), lease_left=False)


def test_the_steps_of_a_finished_chain_say_what_postgres_does_not_know(cli: Cli) -> None:
    notices = check_steps_of_a_finished_chain(cli)
    assert any("postgres server reports no lease expiry" in n for n in notices), notices
