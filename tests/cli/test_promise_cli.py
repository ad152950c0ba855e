"""CliRunner tests of `rpcdemo promise` and `rpcdemo flow`: parsing, bad input, exit codes.

Bad input is refused before anything is asked of a supervisor or a server, so these
run with no topology (or a fake one) and reach no server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._fake_supervisor import Running, rpcdemo


@pytest.mark.parametrize("command", [
    ["promise", "get", "approve-1"], ["promise", "resolve", "approve-1", "--value", "1"],
    ["promise", "reject", "approve-1"], ["promise", "cancel", "approve-1", "--json"],
    ["flow", "cancel", "await-chain"], ["flow", "steps", "await-chain", "--json"],
])
def test_without_a_supervisor_each_says_so_and_exits_3(home: Path, command: list[str]) -> None:
    code, out, err = rpcdemo(home, *command)
    assert code == 3, (out, err)
    assert err.strip() == (f"rpcdemo: nothing is running under {home}; start it with "
                           "`rpcdemo up`")


@pytest.mark.parametrize(("command", "why"), [
    (["promise", "resolve", "p", "--value", "{bad"], "--value is not JSON"),
    (["promise", "reject", "p", "--value", "'single'"], "--value is not JSON"),
    (["promise", "resolve", "a b"], "promise id 'a b' must be printable and contain no spaces"),
    (["promise", "get", ""], "promise id '' must not be empty"),
    (["flow", "cancel", "await-chain:1"], "use `rpcdemo promise cancel ID`"),
    (["flow", "cancel", "a\tb"], "must be printable"),
    (["flow", "steps", ""], "must not be empty"),
])
def test_bad_input_is_one_line_and_exit_2(running: Running, command: list[str],
                                          why: str) -> None:
    code, out, err = rpcdemo(running.home, *command)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rpcdemo: ") and why in lines[0], err
    assert out == ""


def test_bad_input_wins_over_nothing_running(home: Path) -> None:
    code, _, err = rpcdemo(home, "promise", "resolve", "p", "--value", "nope")
    assert code == 2 and "--value is not JSON" in err


@pytest.mark.parametrize("command", [["promise", "get"], ["flow", "steps"],
                                     ["promise", "settle", "p"], ["flow", "cancel", "--bad"]])
def test_missing_arguments_and_unknown_subcommands_are_usage_errors(home: Path,
                                                                    command: list[str]) -> None:
    code, _, _ = rpcdemo(home, *command)
    assert code == 2


def test_the_groups_are_listed_in_help(home: Path) -> None:
    code, out, _ = rpcdemo(home, "--help")
    assert code == 0 and "promise" in out and "flow" in out
    code, out, _ = rpcdemo(home, "promise", "--help")
    assert code == 0 and all(word in out for word in ("get", "resolve", "reject", "cancel"))
    assert "3 not running" in " ".join(out.split())
