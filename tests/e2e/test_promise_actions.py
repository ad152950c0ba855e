"""e2e: `rpcdemo promise` and `rpcdemo flow` on a real `up --detach` topology (the embedded
server): a human-in-the-loop promise settled by hand, an await chain canceled while a
step runs, the steps of a finished chain. resonate-pg's: test_postgres_promises.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from tests.e2e._cli_support import Cli, running_topology
from tests.e2e._promise_support import (
    TOPOLOGY,
    check_cancel_mid_step,
    check_human_in_the_loop,
    check_steps_of_a_finished_chain,
    start_chain,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    with running_topology("--ttl", "5", *TOPOLOGY) as c:
        yield c


def test_a_human_in_the_loop_promise_is_settled_by_hand(cli: Cli) -> None:
    client = ResonateClient(f"http://127.0.0.1:{cli.server_port}")
    stamp = time.time_ns()
    ids = (f"approval-a-{stamp}", f"approval-b-{stamp}", f"approval-c-{stamp}")
    for pid in ids:  # what a workflow awaiting a person's answer creates
        client.request("promise.create", {"id": pid, "param": {}, "tags": {},
                                          "timeoutAt": int(time.time() * 1000) + 3_600_000})
    check_human_in_the_loop(cli, ids)


def test_a_chain_canceled_mid_step_keeps_its_settled_children(cli: Cli) -> None:
    check_cancel_mid_step(cli, start_chain(cli), lease_left=True)


def test_the_steps_of_a_finished_chain(cli: Cli) -> None:
    assert check_steps_of_a_finished_chain(cli) == []  # the embedded server tells it all
