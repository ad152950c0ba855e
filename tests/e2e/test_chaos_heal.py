"""A chaos run never leaves a mess: every way it can end, against a real topology.

`rpcdemo chaos` runs as a real process against a topology `up --detach` started
(links on by default). Mid-fault (a node paused, or its link partitioned, for far longer
than the test waits) the run is ended: SIGTERM, SIGKILL, its stdout closed,
`rpcdemo down`, its supervisor SIGKILLed. Each test asserts that within 5 s
nothing is left broken (no node paused, no link broken, no fault lease held),
that the flows pending then complete, and, where the chaos process survives,
that it wrote its report with the verdict ``unknown`` and the reason and
exited with the documented code. A kill fault's node is respawned by the
supervisor once the chaos process is gone. `rpcdemo heal` and `net`'s leases
are exercised by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from resonate_rpc_cli.backends import read_client
from resonate_rpc_cli.contracts.errors import RpcdemoError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.links.client import LinkClient
from resonate_rpc_cli.supervisor.client import SupervisorClient
from tests.e2e._cli_support import Cli, running_topology
from tests.procs import processes_of_home, wait_until

pytestmark = pytest.mark.e2e

HEAL_S = 5.0
#: Faults last far longer than any test waits: only the end of the run heals them.
LONG_DOWN = "60:60"
UP_FLAGS = ("--ttl", "3", "--step-delay", "0.3")


class ChaosProc:
    """`rpcdemo chaos` as a subprocess; its stderr lines collected as they come."""

    def __init__(self, cli: Cli, faults: str, report: Path, *, stdout: int | None = None,
                 mix: str = "await-chain,detached-chain,fan-out") -> None:
        argv = cli.argv("chaos", "--duration", "60", "--flows", "1000", "--concurrency", "3",
                        "--mix", mix,
                        "--faults", faults, "--targets", "service-b", "--fault-count", "1",
                        "--interval", "0.3:0.3", "--down", LONG_DOWN, "--holder-wait", "3",
                        "--seed", "5", "--report", str(report))
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=stdout if stdout is not None else subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))

    def wait_line(self, text: str, timeout: float = 30.0) -> str:
        try:
            return str(wait_until(lambda: next((ln for ln in self.lines if text in ln), None),
                              timeout, f"chaos to print {text!r}", 0.05))
        except AssertionError as exc:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"{exc}; chaos printed: {self.lines[-10:]}") from None

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                f"chaos still running {timeout}s later: {self.lines[-10:]}") from None
        self._reader.join(5)
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()
        assert not any("Traceback" in ln for ln in self.lines), self.lines
        return code


@pytest.fixture(scope="module")
def topo() -> Iterator[Cli]:
    with running_topology(*UP_FLAGS) as cli:
        yield cli


def broken(cli: Cli) -> dict[str, Any]:
    """What is still broken: paused nodes (state or SIGSTOP), broken links, fault leases
    (asked of the real supervisor and link switchboard in-process: a CLI start per poll is slow)."""
    home = Home(cli.home)
    status = SupervisorClient(home, timeout_s=5.0).status()
    paused = [n.name for n in status.nodes if n.state == "paused" or _stopped(n.pid)]
    links = [link.node for link in LinkClient(home).status() if link.state != "ok"]
    return {"paused": paused, "links": links, "faults": [f.to_dict() for f in status.fault_rows()]}


def _stopped(pid: int | None) -> bool:
    try:
        return pid is not None and psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.Error:
        return False


def assert_healed(cli: Cli, within: float = HEAL_S) -> None:
    wait_until(lambda: not any(broken(cli).values()), within,
               "no node paused, no link broken, no fault held", interval=0.1)


def pending_roots(cli: Cli) -> set[str]:
    url = SupervisorClient(Home(cli.home), timeout_s=5.0).status().config.server_url
    return {str(p["id"]) for p in read_client(url, timeout_s=5.0).promise_search(
        state="pending") if ":" not in str(p["id"])}


def assert_flows_complete(cli: Cli, roots: set[str], within: float = 40.0) -> None:
    """The flows pending when the run ended all settle (the topology recovered)."""
    wait_until(lambda: not (roots & pending_roots(cli)), within,
               f"the {len(roots)} flow(s) pending at the end to complete")


def assert_report(report: Path, reason: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((report / "report.json").read_text())
    assert doc["verdict"] == "unknown", doc["reasons"]
    assert any(reason in r for r in doc["reasons"]), doc["reasons"]
    assert reason in str(doc["run"]["ended"])
    assert (report / "history.jsonl").exists() and (report / "report.html").exists()
    return doc


FAULT_LINE = {"pause": "chaos: pause service-b", "partition": "chaos: partition service-b"}


@pytest.mark.parametrize("fault", ["pause", "partition"])
def test_sigterm_mid_fault_heals_and_reports_unknown(topo: Cli, tmp_path: Path,
                                                     fault: str) -> None:
    chaos = ChaosProc(topo, fault, tmp_path)
    chaos.wait_line(FAULT_LINE[fault])
    assert broken(topo)["faults"], "the fault is held as a lease while in force"
    pending = pending_roots(topo)
    chaos.proc.send_signal(signal.SIGTERM)
    assert chaos.wait(HEAL_S + 10) == 128 + signal.SIGTERM
    assert_healed(topo)
    assert_report(tmp_path, "interrupted by SIGTERM")
    assert_flows_complete(topo, pending)


@pytest.mark.parametrize("fault", ["pause", "partition"])
def test_kill9_mid_fault_is_healed_by_the_supervisor(topo: Cli, tmp_path: Path,
                                                     fault: str) -> None:
    chaos = ChaosProc(topo, fault, tmp_path)
    chaos.wait_line(FAULT_LINE[fault])
    lease = broken(topo)["faults"][0]
    assert lease["holder_pid"] == chaos.proc.pid and lease["left_s"] > 50, lease
    pending = pending_roots(topo)
    chaos.proc.kill()
    chaos.wait(10)
    assert_healed(topo)  # the holder is gone: healed long before the lease's deadline
    events = [e.detail for e in SupervisorClient(Home(topo.home)).status().events
              if e.kind == "healed"]
    assert any("is gone" in d for d in events), events
    assert_flows_complete(topo, pending)


def test_kill9_mid_kill_fault_the_supervisor_respawns_the_node(topo: Cli, tmp_path: Path) -> None:
    """A kill fault's respawn follows the same rule: the holder gone, the node comes back."""
    chaos = ChaosProc(topo, "kill", tmp_path)
    chaos.wait_line("chaos: kill service-b")
    sup = SupervisorClient(Home(topo.home))
    assert any(n.state == "killed" for n in sup.status().in_group("service-b"))
    pending = pending_roots(topo)
    chaos.proc.kill()
    chaos.wait(10)
    wait_until(lambda: all(n.state == "ready" for n in sup.status().nodes)
               and not sup.status().fault_rows(), HEAL_S + 5,
               "the killed node respawned by the supervisor", interval=0.1)
    assert_flows_complete(topo, pending)


def test_closed_stdout_ends_the_run_cleanly(topo: Cli, tmp_path: Path) -> None:
    chaos = ChaosProc(topo, "pause", tmp_path, stdout=subprocess.PIPE)
    chaos.wait_line(FAULT_LINE["pause"])
    pending = pending_roots(topo)
    assert chaos.proc.stdout is not None
    chaos.proc.stdout.close()  # as `| head` does once it has its lines
    assert chaos.wait(HEAL_S + 10) == 2
    assert_healed(topo)
    assert_report(tmp_path, "stdout was closed")
    assert_flows_complete(topo, pending)


def test_heal_by_hand(topo: Cli) -> None:
    assert topo.run("heal").returncode == 2  # neither a node nor --all
    sup = SupervisorClient(Home(topo.home))
    sup.kill("service-c-1", "STOP")
    holder = subprocess.Popen(["sleep", "60"])
    try:
        sup.hold_fault("pause", "service-c-1", 60.0, holder="test", holder_pid=holder.pid)
        rows = broken(topo)["faults"]
        assert [(r["kind"], r["node"], r["holder_pid"]) for r in rows] == \
            [("pause", "service-c-1", holder.pid)], rows
        assert rows[0]["deadline"] > time.time() + 50
        healed = topo.json("heal", "--all")["healed"]
        assert [(h["node"], h["done"]) for h in healed] == [("service-c-1", "resumed")]
        assert_healed(topo)
    finally:
        holder.kill()
        holder.wait()
        with contextlib.suppress(RpcdemoError):
            sup.kill("service-c-1", "CONT")


def test_net_faults_are_leases_the_operator_holds(topo: Cli) -> None:
    cut = topo.run("net", "partition", "service-e-1", "--for", "30")
    assert cut.returncode == 0, cut.stderr
    rows = broken(topo)["faults"]
    assert [(r["kind"], r["node"], r["holder"]) for r in rows] == \
        [("partition", "service-e-1", "net")], rows
    assert 20 < rows[0]["left_s"] <= 30
    assert topo.run("net", "heal", "service-e-1").returncode == 0
    assert_healed(topo)


@pytest.mark.parametrize("how", ["down", "supervisor killed"])
def test_topology_gone_mid_run_exits_3_with_a_report(tmp_path: Path, how: str) -> None:
    # only what the await chain needs: a topology of five processes starts faster
    with running_topology(*UP_FLAGS, "--only", "gateway,service-a,service-b,service-c") as cli:
        chaos = ChaosProc(cli, "pause", tmp_path, mix="await-chain")
        chaos.wait_line(FAULT_LINE["pause"])
        if how == "down":
            assert cli.run("down").returncode == 0
        else:
            pid = int((cli.home / "run" / "supervisor.pid").read_text())
            os.kill(pid, signal.SIGKILL)
        gone_at = time.monotonic()
        code = chaos.wait(HEAL_S + 10)
        assert time.monotonic() - gone_at < HEAL_S, chaos.lines[-5:]
        assert code == 3, chaos.lines[-10:]
        # nothing of the topology is left, so nothing is left paused either
        wait_until(lambda: not processes_of_home(cli.home), HEAL_S, "the topology to be gone")
        assert_report(tmp_path, "the topology under")
