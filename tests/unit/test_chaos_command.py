"""``rpcdemo chaos`` through CliRunner: --dry-run, --help, and one-line usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit._chaos_cli import invoke

FLAGS = ["--flows", "--concurrency", "--mix", "--faults", "--targets", "--interval", "--seed",
         "--deadline", "--report", "--json", "--dry-run"]


def test_help_lists_every_flag_of_the_contract() -> None:
    code, out, _ = invoke("chaos", "--help")
    assert code == 0
    for flag in FLAGS:
        assert flag in out, flag
    text = " ".join(out.replace("│", " ").split())
    assert "0 pass, 1 fail, 2 unknown" in text
    assert "hit (default: all)" in text, "help text must survive Rich markup"


def test_dry_run_is_deterministic_for_a_seed_and_starts_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = ("--home", str(home), "chaos", "--dry-run", "--json", "--seed", "11",
            "--fault-count", "6", "--faults", "kill,pause,gateway")
    code, out, err = invoke(*args)
    assert code == 0, err
    first = json.loads(out)
    assert first["seed"] == 11 and len(first["schedule"]) == 6
    assert {f["kind"] for f in first["schedule"][:3]} == {"kill", "pause", "gateway"}
    assert json.loads(invoke(*args)[1]) == first
    other = json.loads(invoke(*args[:-5], "12", *args[-4:])[1])
    assert other["schedule"] != first["schedule"]
    assert not home.exists(), "a dry run must not create or start anything"


def test_dry_run_table_names_the_seed() -> None:
    code, out, _ = invoke("chaos", "--dry-run", "--seed", "5", "--faults", "server")
    assert code == 0
    assert "fault schedule for seed 5" in out and "server" in out


def test_dry_run_without_seed_prints_the_seed_it_drew() -> None:
    code, out, _ = invoke("chaos", "--dry-run", "--json")
    assert code == 0
    seed = json.loads(out)["seed"]
    assert isinstance(seed, int) and seed >= 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "kill,nuke"], "unknown fault kind 'nuke'"),
        (["--targets", "service-z"], "unknown target group 'service-z'"),
        (["--interval", "5:1"], "--interval must be 0 <= MIN <= MAX"),
        (["--down", "x"], "--down must be MIN:MAX"),
        (["--mix", "fan-out,nope"], "unknown flow 'nope'"),
        (["--flows", "0"], "--flows must be >= 1"),
        (["--concurrency", "0"], "--concurrency must be >= 1"),
        (["--deadline", "-1"], "--deadline must be a positive number"),
        (["--faults", "kill", "--targets", ""], None),  # empty targets mean all: fine
    ],
)
def test_bad_flags_are_one_line_and_exit_2(args: list[str], message: str | None) -> None:
    code, _, err = invoke("chaos", "--dry-run", *args)
    if message is None:
        assert code == 0, err
        return
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], err
    assert lines[0].startswith("rpcdemo chaos: ")
