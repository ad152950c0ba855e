"""Retention on a real server: `--retain` sweeps settled trees; `rpcdemo gc` does it on demand."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts.errors import ExitStatus
from tests.e2e._server_support import assert_no_leftovers, start_server
from tests.procs import PYTHON, ProcGroup, free_port, wait_until

pytestmark = pytest.mark.e2e


def info(url: str) -> dict[str, Any]:
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(url + "/rpcdemo/info", timeout=5) as resp:
        answer: dict[str, Any] = json.loads(resp.read())
    return answer


def make_tree(client: ResonateClient, root: str, settle: bool) -> None:
    tags = {"resonate:origin": root, "resonate:target": "poll://any@nobody"}
    client.request("promise.create", {"id": root, "timeoutAt": 2**62, "tags": tags})
    client.request("promise.create", {"id": f"{root}.1", "timeoutAt": 2**62,
                                      "tags": {"resonate:origin": root}})
    if settle:
        for pid in (f"{root}.1", root):
            client.request("promise.settle", {"id": pid, "state": "resolved", "value": {}})


def rpcdemo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([PYTHON, "-m", "resonate_rpc_cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_retain_sweeps_settled_trees_and_the_drop_survives_kill_9(
    procs: ProcGroup, tmp_path: Path
) -> None:
    port = free_port()
    url, server = start_server(procs, tmp_path, "--retain", "1s", port=port, memory=False)
    client = ResonateClient(url)
    make_tree(client, "done", settle=True)
    make_tree(client, "open", settle=False)
    wait_until(lambda: info(url)["promises"] == 2, 20, "retention to drop the settled tree")
    assert info(url)["promise_states"] == {"pending": 2}
    assert info(url)["collected"]["promises"] == 2

    server.signal(signal.SIGKILL)
    server.popen.wait(5)
    url, _ = start_server(procs, tmp_path, port=port, memory=False)
    assert ResonateClient(url).promise_get("done") is None
    kept = ResonateClient(url).promise_get("open")
    assert kept is not None and kept["state"] == "pending"
    assert_no_leftovers(procs, tmp_path)


def test_gc_command_reports_and_drops(procs: ProcGroup, tmp_path: Path) -> None:
    url, _ = start_server(procs, tmp_path, memory=False)
    client = ResonateClient(url)
    make_tree(client, "a", settle=True)
    make_tree(client, "b", settle=False)
    dry = rpcdemo(tmp_path, "gc", "--server-url", url, "--older-than", "0s", "--dry-run",
                  "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout) == {"trees": 1, "promises": 2, "tasks": 1,
                                      "bytes": json.loads(dry.stdout)["bytes"], "dry_run": True}
    assert info(url)["promises"] == 4
    done = rpcdemo(tmp_path, "gc", "--server-url", url, "--older-than", "0s")
    assert done.returncode == 0, done.stderr
    assert "dropped 2 promises in 1 call trees" in done.stdout
    assert info(url)["promises"] == 2

    bad = rpcdemo(tmp_path, "gc", "--server-url", url, "--older-than", "soon")
    assert bad.returncode == ExitStatus.USAGE and len(bad.stderr.strip().splitlines()) == 1
    gone = rpcdemo(tmp_path, "gc", "--server-url", f"http://127.0.0.1:{free_port()}",
                   "--older-than", "1h")
    assert gone.returncode == ExitStatus.NOT_RUNNING, gone.stderr
    assert_no_leftovers(procs, tmp_path)
