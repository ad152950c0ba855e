"""A declared application under the supervisor (fakes): its nodes, their launch, readiness
claims, kill/scale targets; and the root promise ``rpcdemo run`` creates, against the SDK's."""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import replace
from pathlib import Path

import msgspec
import pytest
from resonate.codec import Codec, NoopEncryptor
from resonate.types import PromiseCreateReq, TaskData

from resonate_rpc_cli.cli.topology_file import parse_config
from resonate_rpc_cli.clients.app_flows import create_request, fill_id
from resonate_rpc_cli.contracts.app_topology import AppTopology, Readiness
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import NodeName
from resonate_rpc_cli.supervisor.app_launch import KEEPER, declared_failure
from resonate_rpc_cli.supervisor.operations import scale
from resonate_rpc_cli.supervisor.readiness import DeclaredReadiness
from resonate_rpc_cli.supervisor.rows import NodeRow
from resonate_rpc_cli.supervisor.topology_config import (
    LaunchSpec,
    TopologyConfig,
    build_launch,
    validate_config,
)
from tests.unit._supervisor_fakes import make_rig

APP = """\
[groups.orders]
command = ["python", "-m", "orders.worker", "--fast"]
env = { LOG_LEVEL = "debug" }
[groups.payments]
command = "payments-bin"
replicas = 2
ready = "log:up"
[flows.place-order]
function = "place_order"
group = "orders"
args = ["o-1", 3]
"""


LISTENING = Readiness()


@pytest.fixture
def app(tmp_path: Path) -> AppTopology:
    found = parse_config(APP, str(tmp_path / "rpcdemo.toml")).app
    assert isinstance(found, AppTopology)
    return found


def test_the_nodes_are_the_declared_groups_and_replicas(app: AppTopology) -> None:
    config = TopologyConfig(app=app)
    assert [str(n) for n in config.node_names()] == [
        "server", "orders-1", "payments-1", "payments-2"]
    assert not config.includes("gateway") and not config.includes("service-a")
    assert TopologyConfig(app=app, replicas={"orders": 3}).replicas_of("orders") == 3


def test_a_declared_node_runs_its_command_under_the_keeper(app: AppTopology,
                                                           tmp_path: Path) -> None:
    config = TopologyConfig(app=app, server_port=18999, ttl_s=7)
    spec = build_launch(config, Home(tmp_path), NodeName("orders", 1), incarnation=2,
                        node_id="n1", parent_pid=4242, server_url="http://127.0.0.1:1/")
    assert spec.argv == [sys.executable, "-m", KEEPER, "--", sys.executable, "-m",
                         "orders.worker", "--fast"]
    assert spec.cwd == str(tmp_path.resolve()) and spec.ready == Readiness()
    env = spec.env
    assert env["RESONATE_URL"] == "http://127.0.0.1:1/"
    assert (env["RPCDEMO_NODE"], env["RPCDEMO_GROUP"]) == ("orders-1", "orders")
    assert env["RPCDEMO_HOME"] == str(tmp_path) and env["RPCDEMO_PARENT_PID"] == "4242"
    assert env["LOG_LEVEL"] == "debug" and env["RPCDEMO_TTL"] == "7"


def test_validation_knows_the_declared_groups(app: AppTopology) -> None:
    validate_config(TopologyConfig(app=app, replicas={"payments": 3}, only=["orders"]))
    with pytest.raises(UsageError, match="unknown group 'service-b'; valid groups: orders"):
        validate_config(TopologyConfig(app=app, replicas={"service-b": 3}))
    with pytest.raises(UsageError, match="variant 'polyglot' changes the built-in seed"):
        validate_config(TopologyConfig(app=app, variant="polyglot"))


def test_kill_targets_and_scale_work_on_declared_groups(app: AppTopology,
                                                        tmp_path: Path) -> None:
    rig = make_rig(tmp_path, app=app)
    rig.steps(4)
    assert rig.states() == dict.fromkeys(["server", "orders-1", "payments-1", "payments-2"],
                                         "ready")
    assert rig.sup.kill_targets()[:3] == ["server", "orders", "payments"]
    assert [n.label for n in rig.sup.resolve("payments")] == ["payments-1", "payments-2"]
    scaled = scale(rig.sup, "orders", 2)
    assert scaled.added == ["orders-2"]
    assert list(rig.sup.nodes) == ["server", "orders-1", "orders-2", "payments-1", "payments-2"]
    with pytest.raises(UsageError, match="valid groups: orders, payments"):
        scale(rig.sup, "service-b", 1)


def test_a_listener_claim_becomes_the_nodes_id(app: AppTopology, tmp_path: Path) -> None:
    rig = make_rig(tmp_path, app=app)
    rig.probe.answers = {"orders-1": "listener-7"}
    rig.steps(4)
    assert rig.sup.nodes["orders-1"].node_id == "listener-7"
    assert rig.sup.nodes["payments-1"].node_id.startswith("id")


def _spec(tmp_path: Path, name: str, node_id: str = "ours",
          ready: Readiness = LISTENING) -> LaunchSpec:
    config = TopologyConfig(app=parse_config(APP, str(tmp_path / "f.toml")).app)
    group, _, index = name.rpartition("-")
    spec = build_launch(config, Home(tmp_path), NodeName(group, int(index)), incarnation=1,
                        node_id=node_id, parent_pid=1)
    return replace(spec, ready=ready)


def test_listener_readiness_claims_each_new_id_once(tmp_path: Path) -> None:
    now = [0.0]
    listeners: dict[str, list[str]] = {}
    probe = DeclaredReadiness(lambda: listeners, clock=lambda: now[0])
    one, two = _spec(tmp_path, "orders-1"), _spec(tmp_path, "orders-2")
    assert probe.ready(one) is False
    listeners["orders"] = ["aaa"]
    now[0] += 1
    assert probe.ready(one) == "aaa"
    now[0] += 1
    assert probe.ready(two) is False, "aaa is taken"
    three = _spec(tmp_path, "orders-3")
    assert probe.ready(three) is False
    listeners["orders"] = ["aaa", "bbb", "ccc"]
    now[0] += 1
    # two nodes waiting and two new ids: each is ready, but neither id can be trusted
    assert probe.ready(three) is True
    assert probe.ready(two) is True
    assert set(probe.claimed) == {"aaa", "bbb", "ccc"}


def test_listener_readiness_matches_the_id_rpcdemo_gave(tmp_path: Path) -> None:
    probe = DeclaredReadiness(lambda: {"orders": ["other", "ours"]})
    assert probe.ready(_spec(tmp_path, "orders-1", node_id="ours")) == "ours"


def test_log_http_and_delay_readiness(tmp_path: Path) -> None:
    now = [0.0]
    probe = DeclaredReadiness(lambda: None, clock=lambda: now[0], http=lambda url: url == "u")
    log = _spec(tmp_path, "payments-1", ready=Readiness("log", pattern=r"up on \d+"))
    assert probe.ready(log) is False
    log.log.parent.mkdir(parents=True, exist_ok=True)
    log.log.write_text("starting\nup on 80\n")
    assert probe.ready(log) is True
    assert probe.ready(_spec(tmp_path, "payments-2", ready=Readiness("http", url="u"))) is True
    wait = _spec(tmp_path, "orders-1", ready=Readiness("delay", delay_s=2))
    assert probe.ready(wait) is False
    now[0] += 2.5
    assert probe.ready(wait) is True
    no_info = _spec(tmp_path, "orders-2")
    assert probe.ready(no_info) is False
    now[0] += 2.5
    assert probe.ready(no_info) is True, "no /rpcdemo/info: alive 2 s"


def test_declared_failure_names_the_file_and_key(app: AppTopology) -> None:
    exited = NodeRow("orders-1", "orders", None, "backoff", last_exit=4, log="/l")
    slow = NodeRow("payments-1", "payments", 9, "starting", uptime_s=31.0)
    assert declared_failure(app, [exited], lambda _log: "boom") == (
        f"{app.source}: groups.orders.command exited with 4 before orders-1 was ready: boom")
    assert declared_failure(app, [slow], lambda _log: "") == (
        f"{app.source}: groups.payments.ready (log:up) did not come within 30s "
        "(ready_timeout) for payments-1")
    assert declared_failure(app, [NodeRow("orders-1", "orders", 9, "starting", uptime_s=1)],
                            lambda _log: "") is None


def test_the_root_promise_is_the_one_the_sdk_rpc_creates(app: AppTopology) -> None:
    flow = app.flows[0]
    ours = create_request(flow, "po-1", now_ms=1000)
    codec = Codec(NoopEncryptor())
    param = codec.encode(TaskData(func="place_order", args=("o-1", 3), kwargs={}, version=1))
    sdk = json.loads(msgspec.json.encode(PromiseCreateReq(
        id="po-1", timeout_at=1000 + 86_400_000, param=param, tags={})))
    sdk.pop("tags")
    assert {k: v for k, v in ours.items() if k != "tags"} == sdk, "byte for byte"
    assert json.loads(base64.b64decode(ours["param"]["data"])) == {
        "args": ["o-1", 3], "kwargs": {}, "func": "place_order", "version": 1}
    assert ours["tags"] == {
        "resonate:origin": "po-1", "resonate:branch": "po-1", "resonate:parent": "po-1",
        "resonate:scope": "global", "resonate:target": "poll://any@orders"}


def test_id_marks_are_filled_and_put_back() -> None:
    body = {"id": "{id}", "items": ["{id}-x", 3]}
    assert fill_id(body, "p-9") == {"id": "p-9", "items": ["p-9-x", 3]}
    assert fill_id(fill_id(body, "p-9"), "p-9", back=True) == body


def test_replicas_ready_by_listener_start_one_after_another(app: AppTopology,
                                                            tmp_path: Path) -> None:
    rig = make_rig(tmp_path, app=app, replicas={"orders": 2})
    rig.probe.slow = {"orders-1"}
    rig.steps(4)
    states = rig.states()
    assert (states["orders-1"], states["orders-2"]) == ("starting", "pending"), \
        "the second listener waits until the first one's id is claimed"
    assert (states["payments-1"], states["payments-2"]) == ("ready", "ready"), \
        "a log readiness says which node it is: both start at once"
    rig.probe.slow = set()
    rig.steps(4)
    assert rig.states()["orders-2"] == "ready"
