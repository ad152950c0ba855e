"""`rpcdemo chaos` is part of the real CLI: its dry run prints the seeded schedule."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from resonate_rpc_cli.cli import app


def test_chaos_dry_run_through_the_real_app_is_deterministic() -> None:
    runner = CliRunner()
    args = ["chaos", "--dry-run", "--seed", "7", "--flows", "10", "--json"]
    first = runner.invoke(app, args)
    second = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    schedule = json.loads(first.output)
    assert schedule, first.output


def test_chaos_bad_flag_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["chaos", "--faults", "meteor", "--dry-run"])
    assert result.exit_code == 2
    assert "meteor" in result.output
    assert "Traceback" not in result.output
