"""The declared application's tables: records, defaults, and one line per bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resonate_rpc_cli.cli.topology_file import TopologyFile, parse_config
from resonate_rpc_cli.contracts.app_parse import parse_readiness
from resonate_rpc_cli.contracts.app_topology import (
    HTTP_FLOW,
    RPC_FLOW,
    AppTopology,
    Readiness,
)
from resonate_rpc_cli.contracts.errors import UsageError
from resonate_rpc_cli.contracts.record import Record
from resonate_rpc_cli.supervisor.topology_config import TopologyConfig

GOOD = """\
[app]
name = "order-saga"

[groups.orders]
command = ["python", "-m", "orders.worker"]
replicas = 2
env = { LOG_LEVEL = "info", N = 3 }
ready = "log:ready in \\\\d+"
ready_timeout = "10s"

[groups.payments]
command = "node pay.mjs --fast"
ready = "delay:2s"

[flows.place-order]
function = "place_order"
group = "orders"
args = ["o-1", 3]
expect = { status = "confirmed" }

[flows.health]
http = "GET http://127.0.0.1:8080/health"
"""


def parse(text: str, tmp_path: Path) -> TopologyFile:
    return parse_config(text, str(tmp_path / "rpcdemo.toml"))


def test_groups_and_flows_become_records(tmp_path: Path) -> None:
    app = parse(GOOD, tmp_path).app
    assert isinstance(app, AppTopology)
    assert app.name == "order-saga" and app.group_names == ("orders", "payments")
    orders, payments = app.groups
    assert orders.command == ("python", "-m", "orders.worker") and orders.replicas == 2
    assert orders.environment == {"LOG_LEVEL": "info", "N": "3"}
    assert orders.ready == Readiness("log", pattern=r"ready in \d+")
    assert orders.ready_timeout_s == 10.0 and orders.cwd == str(tmp_path.resolve())
    assert payments.command == ("node", "pay.mjs", "--fast") and payments.replicas == 1
    assert payments.ready == Readiness("delay", delay_s=2.0)
    order, health = app.flows
    assert (order.kind, order.function, order.group, order.args) == (
        RPC_FLOW, "place_order", "orders", ("o-1", 3))
    assert order.has_expect and order.expect == {"status": "confirmed"}
    assert (health.kind, health.method, health.url, health.has_expect) == (
        HTTP_FLOW, "GET", "http://127.0.0.1:8080/health", False)


def test_the_record_survives_the_supervisor_json(tmp_path: Path) -> None:
    app = parse(GOOD, tmp_path).app
    config = TopologyConfig(app=app)
    again = TopologyConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again.app == app


def plain(value: object) -> object:
    """What ``dataclasses.asdict`` gave of the records when they were dataclasses, through
    JSON: every field of every nested record, lists for tuples."""
    if isinstance(value, Record):
        return {name: plain(getattr(value, name)) for name in value._fields}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def test_the_config_json_holds_every_field_of_the_app(tmp_path: Path) -> None:
    app = parse(GOOD, tmp_path).app
    assert app is not None
    assert json.loads(TopologyConfig(app=app).to_json())["app"] == plain(app)
    assert json.loads(TopologyConfig().to_json())["app"] is None


def test_no_groups_is_the_seed(tmp_path: Path) -> None:
    assert parse("[server]\nport = 8123\n", tmp_path).app is None


@pytest.mark.parametrize(("text", "message"), [
    ("[groups.orders]\nreplicas = 1\n",
     "rpcdemo.toml:1: groups.orders.command is missing"),
    ("[groups.orders]\ncommand = 'a'\n\n[groups.orders]\ncommand = 'b'\n",
     "rpcdemo.toml:4: group [groups.orders] is declared twice"),
    ("[groups.orders]\ncommand = 'a'\n[flows.pay]\nfunction = 'pay'\ngroup = 'billing'\n",
     "rpcdemo.toml:3: flows.pay.group names 'billing', which is not declared (groups: orders)"),
    ("[groups.orders]\ncommand = []\n", "groups.orders.command is empty"),
    ("[groups.orders]\ncommand = 'a'\ncolour = 1\n", "unknown key groups.orders.colour"),
    ("[groups.orders]\ncommand = 'a'\nready = 'soon'\n", "groups.orders.ready must be"),
    ("[groups.orders]\ncommand = 'a'\nreplicas = 0\n", "groups.orders.replicas"),
    ("[groups.orders]\ncommand = 'a'\ncwd = 'nowhere'\n", "groups.orders.cwd: no such folder"),
    ("[groups.Orders]\ncommand = 'a'\n", "a group name is lower-case"),
    ("[groups.server]\ncommand = 'a'\n", "'server' is rpcdemo's own node"),
    ("[groups.orders]\ncommand = 'a'\n[flows.x]\nhttp = 'POST http://h/x'\ngroup = 'orders'\n",
     "flows.x.group does not go with flows.x.http"),
    ("[groups.orders]\ncommand = 'a'\n[flows.x]\nhttp = 'FETCH x'\n", "flows.x.http must be"),
    ("[flows.x]\nfunction = 'f'\ngroup = 'g'\n", "[flows.*] needs the groups"),
])
def test_bad_input_is_one_line_naming_file_and_key(tmp_path: Path, text: str,
                                                   message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text, tmp_path)
    line = str(caught.value)
    assert message in line and "\n" not in line and str(tmp_path) in line


@pytest.mark.parametrize(("text", "ready"), [
    ("listener", Readiness()),
    ("http://127.0.0.1:9/h", Readiness("http", url="http://127.0.0.1:9/h")),
    ("http:http://127.0.0.1:9/h", Readiness("http", url="http://127.0.0.1:9/h")),
    ("delay:1.5s", Readiness("delay", delay_s=1.5)),
])
def test_readiness_forms(text: str, ready: Readiness) -> None:
    assert parse_readiness(text) == ready


def test_group_tables_name_the_declared_groups(tmp_path: Path) -> None:
    text = "[replicas]\norders = 3\n[groups.orders]\ncommand = 'a'\n"
    assert parse(text, tmp_path).settings["replicas"] == {"orders": 3}
    with pytest.raises(UsageError, match=r"unknown group replicas.service-b \(valid: orders\)"):
        parse(text.replace("orders = 3", "service-b = 3"), tmp_path)
