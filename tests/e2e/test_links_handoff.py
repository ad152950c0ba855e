"""Links on by default, with the handoff: the real CLI, supervisor, links, server and nodes.

A topology started by a bare ``up`` (no ``--links``) has a link per node, and
while they are healthy the embedded server serves their connections itself:
a flow runs with every link on the ``handoff`` path and nothing relayed. A
partition of service-b's link cuts service-b's handed-over connections: the
node reconnects, through the link now relaying (``proxy``), where the
partition holds it, so a flow that needs service-b does not finish while it
lasts. After heal the flow completes and new connections are handed over again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from resonate.connections.local import PENDING_RETRY_TTL

from resonate_rpc_cli.contracts.flows import expected_value
from tests.e2e._cli_support import Cli, post_flow, running_topology
from tests.procs import wait_until

pytestmark = pytest.mark.e2e

BLOCKED_S = 4.0  # how long a partitioned service-b is watched not finishing a flow


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    with running_topology("--memory", "--ttl", "3") as c:
        yield c


def links(cli: Cli) -> dict[str, dict[str, Any]]:
    return {d["node"]: d for d in cli.json("net", "status")}


def test_a_default_topology_hands_its_connections_to_the_server(cli: Cli) -> None:
    answer = post_flow(cli, "/await-chain", "handoff-1", 3, timeout_s=90)
    assert answer.get("message") == expected_value("foo", 3), answer
    got = links(cli)
    assert {d["path"] for d in got.values()} == {"handoff"}, got
    assert all(d["connections"] == 0 for d in got.values()), got  # nothing relayed
    assert got["gateway"]["handed_off"] >= 1 and got["service-b-1"]["handed_off"] >= 1, got
    status = cli.json("status")
    assert {n["link"] for n in status["nodes"] if n["name"] != "server"} == {"ok"}, status


def test_a_partition_cuts_the_handed_over_connections_and_holds_the_node_until_heal(
        cli: Cli) -> None:
    cut = cli.json("net", "partition", "service-b")
    assert [(d["node"], d["state"], d["path"]) for d in cut] == [
        ("service-b-1", "partitioned", "proxy")]
    # cut off from the server, service-b-1 reconnects: through the link, which now relays
    wait_until(lambda: links(cli)["service-b-1"]["connections"] >= 1, 15,
               "service-b-1 to reconnect through its relaying link", interval=0.3)
    done: dict[str, Any] = {}

    def post() -> None:
        try:
            done["answer"] = post_flow(cli, "/await-chain", "handoff-2", 4, timeout_s=90)
        except Exception as exc:  # reported by the assertions below
            done["error"] = repr(exc)

    threading.Thread(target=post, daemon=True).start()
    with pytest.raises(AssertionError):
        wait_until(lambda: done, BLOCKED_S, "nothing: service-b is cut off", interval=0.1)
    others = {n: d["path"] for n, d in links(cli).items() if n != "service-b-1"}
    assert set(others.values()) == {"handoff"}, others  # the other links are untouched
    healed = cli.json("net", "heal", "service-b")
    assert [(d["state"], d["path"]) for d in healed] == [("ok", "handoff")]
    wait_until(lambda: done, PENDING_RETRY_TTL / 1000 + 30, "the flow to complete after heal",
               interval=0.1)
    assert done.get("answer", {}).get("message") == expected_value("foo", 4), done
