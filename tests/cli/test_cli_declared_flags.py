"""CliRunner tests: `up`'s --replicas, --delay and --only name a declared application's groups
when the topology file declares groups (the seed's names otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonate_rpc_cli.supervisor.topology_config import TopologyConfig
from tests.cli._fake_supervisor import rpcdemo

APP = ('[groups.orders]\ncommand = ["python", "-m", "orders"]\n'
       '[groups.payments]\ncommand = ["python", "-m", "payments"]\n')


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "app.toml"
    path.write_text(APP)
    return path


def test_flags_name_the_declared_groups(home: Path, app_file: Path,
                                        captured: list[TopologyConfig]) -> None:
    code, _, err = rpcdemo(home, "up", "-d", "--config", str(app_file),
                           "--replicas", "payments=3", "--delay", "orders=1.5",
                           "--only", "orders,payments")
    assert code == 3 and "captured" in err, err
    config = captured[0]
    assert config.replicas == {"payments": 3}
    assert config.delays == {"orders": 1.5}
    assert config.only == ["orders", "payments"]
    assert [str(n) for n in config.node_names()] == [
        "server", "orders-1", "payments-1", "payments-2", "payments-3"]


@pytest.mark.parametrize(("args", "flag", "name"), [
    (["--replicas", "service-b=2"], "--replicas", "service-b"),
    (["--delay", "billing=1"], "--delay", "billing"),
    (["--only", "orders,service-a"], "--only", "service-a"),
])
def test_an_unknown_group_is_one_line_listing_the_declared_ones(
        home: Path, app_file: Path, captured: list[TopologyConfig], args: list[str],
        flag: str, name: str) -> None:
    code, _, err = rpcdemo(home, "up", "-d", "--config", str(app_file), *args)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert flag in err and repr(name) in err and "orders, payments" in err, err
    assert "service-c" not in err, "the seed's names are not offered for a declared app"
    assert not captured and not home.exists(), "nothing starts"


@pytest.mark.parametrize(("args", "why"), [
    (["--replicas", "orders=2"], "unknown group 'orders'; valid groups: service-a"),
    (["--delay", "orders=1"], "unknown group 'orders'; valid groups: service-a"),
    (["--only", "orders"], "--only: unknown part 'orders'; valid: gateway, service-a"),
])
def test_without_a_declared_app_they_name_the_seeds_groups(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        captured: list[TopologyConfig], args: list[str], why: str) -> None:
    monkeypatch.chdir(tmp_path)  # no ./rpcdemo.toml: the seed
    code, _, err = rpcdemo(home, "up", "-d", *args)
    assert code == 2 and why in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not captured
