"""The run action on a declared application (pure parts): the flow rows and run buttons are
the declared flows, a root finds its declared flow, and a run's outcome reads as the seed's.

The run itself, through the real topology, is in tests/e2e/test_declared_app.py."""

from __future__ import annotations

from pathlib import Path

from resonate_rpc_cli.clients.app_flows import DeclaredOutcome
from resonate_rpc_cli.contracts.app_topology import AppTopology, FlowSpec, GroupSpec
from resonate_rpc_cli.contracts.flows import FLOWS
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.actions import Kind, Target, actions_for, flow_target
from resonate_rpc_cli.observe.declared import flow_for_root, summary
from resonate_rpc_cli.observe.keys import rows_of
from resonate_rpc_cli.observe.live import LiveModel
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from resonate_rpc_cli.web.document import console_document

PLACE = FlowSpec("place-order", "rpc", function="place_order", group="orders",
                 args=("o-1", 3), expect={"status": "confirmed"}, has_expect=True)
PLACE_LATER = FlowSpec("place-order-later", "rpc", function="later", group="orders")
APP = AppTopology("shop", "shop.toml", (GroupSpec("orders", ("python", "w.py"), "/"),),
                  (PLACE, PLACE_LATER))


def _runs(target: Target) -> bool:
    return any(a.name == "run" for a, _t in actions_for(target))


def test_a_root_belongs_to_its_declared_flow_the_longest_name_winning() -> None:
    assert flow_for_root(APP, "place-order") is PLACE
    assert flow_for_root(APP, "place-order-3f9c0a1b2c4d") is PLACE
    assert flow_for_root(APP, "place-order-later-3f9c0a1b2c4d") is PLACE_LATER
    assert flow_for_root(APP, "fan-out") is None


def test_on_a_declared_app_only_its_flows_offer_run() -> None:
    assert _runs(flow_target("place-order-3f9c0a1b2c4d", "resolved", APP))
    assert flow_target("place-order", "", APP).flow == "place-order"
    assert not _runs(flow_target("fan-out-workflow", "", APP)), "the seed's flows do not run here"
    assert not _runs(flow_target("approval-7", "pending", APP))
    assert _runs(flow_target("fan-out-workflow")), "without a declared app: the seed's"
    assert _runs(Target(Kind.FLOW, "await-chain-1234"))


def test_the_live_views_rows_and_the_consoles_buttons_are_the_declared_flows(
        tmp_path: Path) -> None:
    rows = rows_of([], {}, ["place-order", "fan-out-workflow"], APP)
    assert [(r.target.id, _runs(r.target)) for r in rows] == [
        ("place-order", True), ("fan-out-workflow", False)]
    model = LiveModel(Home(tmp_path))
    model.config = TopologyConfig(app=APP)
    model.pinned = APP.flow_names  # what the first poll sets for a declared app
    assert [r.target.id for r in model.rows()] == ["place-order", "place-order-later"]
    doc = console_document(model, now_ms=0).to_dict()
    assert [(f["name"], f["root"], [a["name"] for a in f["actions"]])
            for f in doc["runnable"]] == [("place-order", "place-order", ["run"]),
                                          ("place-order-later", "place-order-later", ["run"])]
    seed = console_document(LiveModel(Home(tmp_path)), now_ms=0).to_dict()
    assert [f["name"] for f in seed["runnable"]] == list(FLOWS)


def test_an_outcome_reads_as_the_seeds_with_its_judgement() -> None:
    right = DeclaredOutcome("place-order", "po-1", "resolved", {"status": "confirmed"}, 812,
                            expected=True)
    assert summary(PLACE, right) == \
        'place-order [po-1] resolved = {"status": "confirmed"} in 812 ms (as expected)'
    wrong = DeclaredOutcome("place-order", "po-2", "resolved", {"status": "refunded"}, 5,
                            expected=False)
    assert summary(PLACE, wrong).endswith(
        'in 5 ms: flow place-order answered {"status": "refunded"}, expected '
        '{"status": "confirmed"}')
    stuck = DeclaredOutcome("place-order", "po-3", "pending", None, 60_000)
    assert summary(PLACE, stuck) == "place-order [po-3] pending in 60000 ms: flow " \
        "place-order did not settle within 60s (promise po-3)"


def test_a_declared_group_offers_scale_the_server_and_gateway_do_not() -> None:
    def names(target: Target) -> list[str]:
        return [a.name for a, _t in actions_for(target)]

    assert names(Target(Kind.GROUP, "orders", count=1)) == ["scale-up", "scale-down", "scale"]
    assert names(Target(Kind.GROUP, "server", count=1)) == []
    assert names(Target(Kind.GROUP, "gateway", count=1)) == []
