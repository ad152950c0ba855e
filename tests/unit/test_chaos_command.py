"""``rpcdemo chaos`` through CliRunner: --dry-run, --help, and one-line usage errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from resonate_rpc_cli.chaos import session
from resonate_rpc_cli.chaos.options import ChaosOptions
from resonate_rpc_cli.chaos.report import ChaosReport
from resonate_rpc_cli.chaos.session import ChaosResult
from resonate_rpc_cli.contracts.errors import UsageError
from tests.unit._chaos_cli import invoke

FLAGS = ["--flows", "--concurrency", "--mix", "--faults", "--targets", "--interval", "--seed",
         "--deadline", "--report", "--json", "--dry-run", "--duration", "--rate", "--overlap",
         "--scope", "--holder-wait", "--replay"]


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
        (["--duration", "-3"], "--duration must be >= 0"),
        (["--rate", "fast"], "--rate must be flows per second"),
        (["--rate", "0/s"], "--rate must be a positive number"),
        (["--overlap", "0"], "--overlap must be >= 1"),
        (["--scope", "most"], "unknown scope 'most'"),
        (["--holder-wait", "-1"], "--holder-wait must be >= 0"),
        (["--replay", "/nonexistent-dir"], "--replay: no report.json"),
        (["--rate", "20/s", "--duration", "30", "--overlap", "2", "--scope", "one,all"], None),
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


def test_a_run_that_does_not_pass_keeps_its_report_and_prints_the_replay_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_chaos is faked (a fail verdict, no --report): the CLI renders and says how to replay."""
    kept = tmp_path / "kept"
    seen: dict[str, object] = {}

    def fake_run(options: ChaosOptions, home: object, **kw: object) -> ChaosResult:
        seen.update(kw, options=options)
        result = ChaosResult(cast("ChaosReport", {"verdict": "fail", "seed": options.seed,
                                                 "reasons": ["1 lost"]}),
                             record=None)  # type: ignore[arg-type]
        result.report_dir = kept
        return result

    # the command imports run_chaos when it runs (issue 21), so the fake goes on its module
    monkeypatch.setattr(session, "run_chaos", fake_run)
    home = tmp_path / "home"
    code, out, err = invoke("--home", str(home), "chaos", "--seed", "4", "--faults", "kill",
                            "--json")
    assert code == 1, err
    assert json.loads(out)["verdict"] == "fail"
    assert seen["keep_failed"] is True and seen["report_dir"] is None
    assert f"chaos: replay with: rpcdemo --home {home} chaos --replay {kept}" in err
    # and the replay reads the options back from the kept report
    kept.mkdir()
    options = ChaosOptions(seed=4, faults=("kill",), flows=7)
    (kept / "report.json").write_text(json.dumps(
        {"run": {"options": options.to_dict(), "flows_issued": 9}}))
    code, _, err = invoke("--home", str(home), "chaos", "--replay", str(kept), "--json")
    replayed = seen["options"]
    assert isinstance(replayed, ChaosOptions)
    assert replayed.schedule() == options.schedule() and replayed.flows == 9
    assert seen["explicit_faults"] is True


def test_options_are_checked_once_when_made_whatever_makes_them(tmp_path: Path) -> None:
    """The flags, a replayed report and ``replace`` all go through the one check."""
    with pytest.raises(UsageError, match=r"^--overlap must be >= 1, got 0$"):
        replace(ChaosOptions(), overlap=0)
    bad = {**ChaosOptions(seed=1).to_dict(), "concurrency": 0}
    (tmp_path / "report.json").write_text(json.dumps({"run": {"options": bad}}))
    code, _, err = invoke("chaos", "--replay", str(tmp_path), "--dry-run")
    assert code == 2 and "--concurrency must be >= 1, got 0" in err
