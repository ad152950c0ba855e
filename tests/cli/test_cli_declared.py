"""CliRunner tests of a declared application: bad topology files, `init`, and `run`/`scale`/
`kill` naming what the running topology declares."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resonate_rpc_cli.cli.topology_file import (
    SEED_FILE,
    TopologyFile,
    load_config_file,
    packaged_text,
    seed_topology,
)
from resonate_rpc_cli.contracts.app_topology import AppTopology
from resonate_rpc_cli.contracts.flows import FLOWS, flow_named
from resonate_rpc_cli.contracts.home import Endpoints, Home
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS
from tests.cli._fake_supervisor import fake_supervisor, rpcdemo

GROUP = '[groups.orders]\ncommand = ["python", "-m", "orders"]\n'


@pytest.mark.parametrize(("text", "key", "message"), [
    ("[groups.orders]\nreplicas = 2\n", "groups.orders.command", "is missing"),
    (GROUP + "\n[groups.orders]\ncommand = 'x'\n", "[groups.orders]", "is declared twice"),
    (GROUP + "[flows.pay]\nfunction = 'pay'\ngroup = 'billing'\n", "flows.pay.group",
     "names 'billing', which is not declared (groups: orders)"),
    (GROUP + "ready = 'eventually'\n", "groups.orders.ready", "must be"),
])
def test_a_bad_declaration_is_one_line_naming_file_and_key(home: Path, tmp_path: Path,
                                                           text: str, key: str,
                                                           message: str) -> None:
    path = tmp_path / "app.toml"
    path.write_text(text)
    code, _, err = rpcdemo(home, "up", "-d", "--config", str(path))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err and key in err and message in err, err
    assert not home.exists(), "no HOME is created for a bad file"


def test_a_program_that_is_not_there_is_exit_3_before_anything(home: Path,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('[groups.orders]\ncommand = "no-such-program-here --x"\n')
    code, _, err = rpcdemo(home, "up", "-d", "--config", str(path))
    assert code == 3, err
    assert f"{path}: groups.orders.command: 'no-such-program-here' is not on PATH" in err
    assert not home.exists()


def test_init_writes_the_seed_and_a_template_and_never_overwrites(home: Path,
                                                                  tmp_path: Path) -> None:
    code, _, err = rpcdemo(home, "init", str(tmp_path))
    assert code == 0, err
    seed, template = tmp_path / SEED_FILE, tmp_path / "rpcdemo.toml"
    assert seed.read_text() == packaged_text(SEED_FILE)
    assert load_config_file(template) == TopologyFile(), "as written, the template runs the seed"
    app = load_config_file(seed).app
    assert isinstance(app, AppTopology) and app.flow_names == (
        "await-chain", "detached-chain", "fan-out")
    template.write_text("# mine\n")
    code, _, err = rpcdemo(home, "init", str(tmp_path))
    assert code == 2 and "exist; --force overwrites" in err
    assert template.read_text() == "# mine\n", "nothing is written when one exists"
    code, _, err = rpcdemo(home, "init", str(tmp_path), "--force")
    assert code == 0 and template.read_text() != "# mine\n"


def test_the_seed_file_describes_the_built_in_seed() -> None:
    seed = seed_topology()
    assert seed.group_names == ("gateway", *SERVICE_GROUPS)
    for group in seed.groups[1:]:
        assert group.command == ("python", "-m", SERVICE_GROUPS[group.name])
    assert seed.flow_names == tuple(FLOWS)
    for flow in seed.flows:
        assert flow.url.endswith(flow_named(flow.name).route)
        if flow.has_expect:
            assert flow.expect["message"] == flow_named(flow.name).expected(1)


def test_run_scale_and_kill_name_the_declared_groups_and_flows(home: Path,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "rpcdemo.toml"
    path.write_text(GROUP + '[groups.payments]\ncommand = "pay"\n'
                    "[flows.place-order]\nfunction = 'place'\ngroup = 'orders'\n")
    app = load_config_file(path).app
    assert app is not None
    with fake_supervisor(home, app=app):
        Endpoints("http://127.0.0.1:1", None, os.getpid(), app.name).write(Home(home))
        code, _, err = rpcdemo(home, "run", "nope")
        assert code == 2 and f"unknown flow 'nope'; {path} declares: place-order" in err
        code, _, err = rpcdemo(home, "scale", "service-b", "2")
        assert code == 2 and "valid groups: orders, payments" in err
        code, _, err = rpcdemo(home, "scale", "payments", "2")
        assert code == 0, err
        code, _, err = rpcdemo(home, "kill", "nope")
        assert code == 2 and "valid targets: server, orders, payments" in err
