"""Topology variants: which command runs each group, the setting, the install check."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from resonate_rpc_cli.cli.topology_file import parse_config
from resonate_rpc_cli.contracts.errors import NotRunningError, UsageError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.contracts.naming import SERVICE_GROUPS, NodeName
from resonate_rpc_cli.supervisor import variants
from resonate_rpc_cli.supervisor.topology_config import (
    TopologyConfig,
    build_launch,
    validate_config,
)


def launch(config: TopologyConfig, group: str) -> tuple[list[str], dict[str, str]]:
    spec = build_launch(config, Home(Path("/tmp/h")), NodeName(group, 1), incarnation=1,
                        node_id="n1", parent_pid=42)
    return spec.argv, spec.env


def test_polyglot_runs_h_and_i_in_node_and_the_rest_in_python() -> None:
    config = TopologyConfig(variant="polyglot", ttl_s=3.0, delays={"service-h": 2.0})
    for group in SERVICE_GROUPS:
        argv, env = launch(config, group)
        if group in ("service-h", "service-i"):
            assert argv[-1] == str(variants.ts_dir() / variants.TS_SCRIPTS[group])
            assert Path(argv[0]).name == "node"
        else:
            assert argv == [sys.executable, "-m", SERVICE_GROUPS[group]]
    argv, env = launch(config, "service-h")
    # the same node contract as a Python node of the group
    assert env == launch(TopologyConfig(ttl_s=3.0, delays={"service-h": 2.0}), "service-h")[1]
    assert (env["RPCDEMO_TTL"], env["RPCDEMO_STEP_DELAY"]) == ("3.0", "2.0")


def test_seed_is_the_default_and_all_python() -> None:
    assert TopologyConfig().variant == "seed"
    assert launch(TopologyConfig(), "service-h")[0] == [sys.executable, "-m",
                                                       "services.service_h"]


@pytest.mark.parametrize(("config", "why"), [
    (TopologyConfig(variant="rust"), "--variant must be one of seed, polyglot"),
    (TopologyConfig(variant="polyglot", server_kind="postgres"), "does not speak resonate-pg"),
])
def test_bad_variants_are_usage_errors(config: TopologyConfig, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        validate_config(config)


def test_the_topology_file_sets_the_variant() -> None:
    assert parse_config('variant = "polyglot"\n').settings == {"variant": "polyglot"}
    with pytest.raises(UsageError, match="variant"):
        parse_config('variant = "go"\n')
    assert TopologyConfig.from_json(TopologyConfig(variant="polyglot").to_json()).variant == \
        "polyglot"


def test_a_missing_sdk_install_is_exit_3_naming_the_fix(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    variants.check_installed("seed")  # nothing needed
    monkeypatch.setattr(variants, "ts_dir", lambda: tmp_path)
    with pytest.raises(NotRunningError, match="scripts/bootstrap"):
        variants.check_installed("polyglot")
    marker = tmp_path / variants.TS_SDK_MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    if variants.node_binary() is not None:
        variants.check_installed("polyglot")
