"""e2e: the browser console (`rpcdemo ui`) driven by headless Chromium on a real topology.

One `up --detach --links` topology (service-h's step takes a few seconds, so a
fan-out is caught with rax held) and one `rpcdemo ui` process serve every test;
the page runs in Chromium over its DevTools protocol (tests/cdp.py), which fails
every request to anything but 127.0.0.1 and records it: each test ends by
checking that nothing was.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts import tags as tag
from tests.browser import chromium
from tests.cdp import Page
from tests.e2e._cli_support import (
    Cli,
    running_topology,
)
from tests.e2e._console_support import Console, console_of

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(chromium() is None, reason="chromium is not installed")]

H_DELAY_S = 4.0


@pytest.fixture(scope="module")
def cli() -> Iterator[Cli]:
    with running_topology("--ttl", "3", "--links", "--delay", f"service-h={H_DELAY_S:g}") as c:
        yield c


@pytest.fixture(scope="module")
def console(cli: Cli) -> Iterator[Console]:
    with console_of(cli.home) as c:
        yield c


@pytest.fixture
def page(console: Console) -> Iterator[Page]:
    with Page() as p:
        p.goto(console.url)
        p.wait_for("document.body.dataset.nodes == 11", 10, "all eleven nodes drawn")
        yield p
        assert p.blocked == [], f"the page asked for something outside: {p.blocked}"
        assert p.loaded and all(u.startswith(console.base) for u in p.loaded), p.loaded


def js(value: Any) -> str:
    return json.dumps(value)


def promise_state(page: Page, promise_id: str) -> Any:
    return page.eval(f"(() => {{ const g = document.querySelector("
                     f"'g.promise[data-promise-id=' + CSS.escape({js(promise_id)}) + ']'); "
                     "return g && [g.dataset.state, g.dataset.holder, g.dataset.value]; })()")


def node_row(page: Page, name: str) -> Any:
    return page.eval(f"(() => {{ const r = document.querySelector('tr[data-node={name}]'); "
                     "return r && {state: r.dataset.state, pid: r.dataset.pid, "
                     "text: r.textContent}; })()")


def run_from_page(page: Page, flow: str, arg: int) -> str:
    """Click a flow's run button with ``arg``; the fresh root id once its DAG is drawn."""
    before = set(page.eval("Array.from(document.querySelectorAll('.flow')).map(f => "
                           "f.dataset.root)") or [])
    page.eval(f"document.getElementById('run-arg').value = '{arg}'")
    page.click(f"#run-buttons [data-flow={flow}] button[data-action=run]")
    return str(page.wait_for(
        "Array.from(document.querySelectorAll('.flow')).map(f => f.dataset.root)"
        f".filter(r => !{js(sorted(before))}.includes(r))[0]", 10, f"a new {flow} graph"))


def test_a_running_fan_out_appears_as_a_dag_that_changes_state(page: Page) -> None:
    root = run_from_page(page, "fan-out", 5)
    # rax is held by service-h-1 for H_DELAY_S: the graph shows it pending with its holder
    held = page.wait_for(f"(() => {{ const g = document.querySelector("
                         f"'g.promise[data-promise-id=\"{root}:1\"]'); "
                         "return g && g.dataset.state === 'pending' && g.dataset.holder; })()",
                         10, "rax pending, held")
    assert held == "service-h-1"
    assert promise_state(page, root)[0] == "pending"
    edges = page.eval(f"document.querySelector('.flow[data-root=\"{root}\"] svg')"
                      ".querySelectorAll('path.edge').length")
    assert edges >= 2  # zim -> rax, zim -> dop
    # then every promise of the graph settles and the root carries the oracle's value
    page.wait_for(f"(() => {{ const g = document.querySelector("
                  f"'g.promise[data-promise-id=\"{root}\"]'); "
                  "return g && g.dataset.state === 'resolved'; })()", H_DELAY_S + 15,
                  "the fan-out resolved")
    assert promise_state(page, root) == ["resolved", "", "21"]  # 4n + 1
    assert page.eval(f"document.querySelectorAll('.flow[data-root=\"{root}\"] "
                     "g.promise.pending').length") == 0


def test_kill_on_the_holder_from_the_page_and_the_flow_still_completes(
        page: Page, cli: Cli) -> None:
    root = run_from_page(page, "fan-out", 3)
    page.wait_for(f"(() => {{ const g = document.querySelector("
                  f"'g.promise[data-promise-id=\"{root}:1\"]'); "
                  "return g && g.dataset.holder === 'service-h-1'; })()", 10, "rax held")
    pid = int(cli.node("service-h-1")["pid"])
    clicked = time.monotonic()
    page.click("tr[data-node=service-h-1] button[data-action=kill]")
    page.wait_for("document.querySelector('tr[data-node=service-h-1]').dataset.state "
                  "=== 'killed'", 5, "service-h-1 shown killed")
    shown_s = time.monotonic() - clicked
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert shown_s < 3.0, f"the kill showed after {shown_s:.2f}s"
    page.wait_for("document.getElementById('events').textContent.includes("
                  f"'service-h-1 killed pid {pid}')", 5, "the kill in the event stream")
    page.click("tr[data-node=service-h-1] button[data-action=respawn]")
    page.wait_for("document.querySelector('tr[data-node=service-h-1]').dataset.state "
                  "=== 'ready'", 15, "service-h-1 respawned")
    assert int(cli.node("service-h-1")["pid"]) != pid
    page.wait_for(f"document.querySelector('g.promise[data-promise-id=\"{root}\"]')"
                  ".dataset.state === 'resolved'", 30, "the fan-out resolved after the kill")
    assert promise_state(page, root)[2] == "13"  # 4n + 1, once


def test_resolving_a_pending_promise_from_the_page_settles_it(page: Page, cli: Cli) -> None:
    client = ResonateClient(f"http://127.0.0.1:{cli.server_port}")
    pid = f"approval-{time.time_ns()}"
    # what a workflow waiting for a person creates: a root promise nobody's task settles
    client.request("promise.create", {"id": pid, "param": {}, "tags": {tag.ORIGIN: pid},
                                      "timeoutAt": int(time.time() * 1000) + 3_600_000})
    page.wait_for(f"!!document.querySelector('g.promise[data-promise-id=\"{pid}\"]')", 10,
                  "the approval drawn")
    page.click(f"g.promise[data-promise-id=\"{pid}\"]")
    page.wait_for(f"document.getElementById('promise-panel').dataset.promise === '{pid}'", 5,
                  "the promise selected")
    page.eval("document.getElementById('promise-value').value = '{\"approved\": true}'")
    page.click("#promise-actions button[data-action=resolve]")
    page.wait_for(f"document.querySelector('g.promise[data-promise-id=\"{pid}\"]')"
                  ".dataset.state === 'resolved'", 5, "the approval shown resolved")
    got = client.promise_get(pid)
    assert got is not None and got["state"] == "resolved"
    page.wait_for("document.getElementById('promise-actions').textContent.includes('settled')",
                  5, "a settled promise offers no action")
    assert page.eval(f"document.querySelector('g.promise[data-promise-id=\"{pid}\"]')"
                     ".dataset.value") == '{"approved":true}'


@pytest.mark.parametrize(("action", "state"), [("reject", "rejected"),
                                               ("cancel", "rejected_canceled")])
def test_rejecting_or_canceling_a_pending_promise_from_the_page(
        page: Page, cli: Cli, action: str, state: str) -> None:
    client = ResonateClient(f"http://127.0.0.1:{cli.server_port}")
    pid = f"approval-{action}-{time.time_ns()}"
    client.request("promise.create", {"id": pid, "param": {}, "tags": {tag.ORIGIN: pid},
                                      "timeoutAt": int(time.time() * 1000) + 3_600_000})
    page.wait_for(f"!!document.querySelector('g.promise[data-promise-id=\"{pid}\"]')", 10,
                  "the approval drawn")
    page.click(f"g.promise[data-promise-id=\"{pid}\"]")
    page.wait_for(f"document.getElementById('promise-panel').dataset.promise === '{pid}'", 5,
                  "the promise selected")
    page.eval("document.getElementById('promise-value').value = ''")
    page.click(f"#promise-actions button[data-action={action}]")
    page.wait_for(f"document.querySelector('g.promise[data-promise-id=\"{pid}\"]')"
                  f".dataset.state === '{state}'", 5, f"the approval shown {state}")
    got = client.promise_get(pid)
    assert got is not None and got["state"] == state


def test_canceling_a_flow_from_the_page_cancels_its_pending_promises(
        page: Page, cli: Cli) -> None:
    root = run_from_page(page, "fan-out", 2)
    page.wait_for(f"(() => {{ const g = document.querySelector("
                  f"'g.promise[data-promise-id=\"{root}:1\"]'); "
                  "return g && g.dataset.holder === 'service-h-1'; })()", 10, "rax held")
    page.click(f".flow[data-root=\"{root}\"] h3 button[data-action=cancel-flow]")
    page.wait_for(f"document.querySelector('g.promise[data-promise-id=\"{root}\"]')"
                  ".dataset.state === 'rejected_canceled'", 10, "the root shown canceled")
    client = ResonateClient(f"http://127.0.0.1:{cli.server_port}")
    got = client.promise_get(root)
    assert got is not None and got["state"] == "rejected_canceled"
    dop = client.promise_get(f"{root}:2")  # settled before the cancel: left as it was
    assert dop is not None and dop["state"] == "resolved"


def test_node_actions_from_the_page(page: Page, cli: Cli) -> None:
    """pause/resume, partition/heal, scale up/down, kill+respawn, each through the page."""
    def row_is(name: str, what: str, timeout: float = 10.0) -> None:
        page.wait_for(f"(() => {{ const r = document.querySelector('tr[data-node={name}]'); "
                      f"return r && ({what}); }})()", timeout, f"{name}: {what}")

    pid = int(cli.node("service-a-1")["pid"])
    page.click("tr[data-node=service-a-1] button[data-action=pause]")
    row_is("service-a-1", "r.dataset.state === 'paused'")
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    page.click("tr[data-node=service-a-1] button[data-action=resume]")
    row_is("service-a-1", "r.dataset.state === 'ready'")
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED

    page.click("tr[data-node=service-c-1] button[data-action=partition]")
    page.wait_for("document.querySelector('tr[data-link=service-c-1]').dataset.state "
                  "=== 'partitioned'", 5, "service-c-1's link partitioned")
    assert _link(cli, "service-c-1") == "partitioned"
    page.click("tr[data-node=service-c-1] button[data-action=heal-link]")
    page.wait_for("document.querySelector('tr[data-link=service-c-1]').dataset.state "
                  "=== 'ok'", 5, "service-c-1's link healed")
    assert _link(cli, "service-c-1") == "ok"

    def scale(action: str, size: int, typed: str | None = None) -> None:
        if typed is not None:
            page.eval(f"(() => {{ const i = document.querySelector('[data-group=service-d] "
                      f"input'); i.value = '{typed}'; i.dispatchEvent(new Event('input')); }})()")
        page.click(f"[data-group=service-d] button[data-action={action}]")
        page.wait_for(f"document.querySelectorAll('tr[data-node^=service-d-][data-state=ready]')"
                      f".length === {size} && document.querySelectorAll("
                      f"'tr[data-node^=service-d-]').length === {size}", 20,
                      f"service-d at {size} node(s) after {action}")
        live = [n for n in cli.json("status")["nodes"]
                if n["group"] == "service-d" and not n.get("retiring")]
        assert len(live) == size, live

    scale("scale-up", 2)
    scale("scale-down", 1)
    scale("scale", 2, typed="2")
    scale("scale", 1, typed="1")

    old = int(cli.node("service-e-1")["pid"])
    page.click("tr[data-node=service-e-1] button[data-action=kill-respawn]")
    row_is("service-e-1", f"r.dataset.pid && r.dataset.pid !== '{old}' && "
           "r.dataset.state === 'ready'", 20)
    assert not psutil.pid_exists(old) or psutil.Process(old).status() == psutil.STATUS_ZOMBIE


def _link(cli: Cli, node: str) -> str:
    links = cli.json("status")["links"]
    return str(next(link["state"] for link in links if link["node"] == node))


def _request(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
             body: Any = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_requests_without_the_token_are_refused_and_change_nothing(
        console: Console, cli: Cli) -> None:
    path = cli.home / "console" / "token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().strip() == console.token
    for route in ("/", "/events", "/api/state", "/?token=wrong", "/events?token="):
        assert _request(console.base + route) == 403, route
    pid = cli.node("service-f-1")["pid"]
    kill = {"action": "kill", "target": "service-f-1"}
    same = {"X-Rpcdemo-Console": "1", "Content-Type": "application/json"}
    refused = [
        _request(f"{console.base}/api/action", method="POST", body=kill, headers=same),
        _request(f"{console.base}/api/action?token=nope", method="POST", body=kill, headers=same),
        # the right token, but not from the console's page: no custom header, another origin
        _request(f"{console.base}/api/action?token={console.token}", method="POST", body=kill,
                 headers={"Content-Type": "application/json"}),
        _request(f"{console.base}/api/action?token={console.token}", method="POST", body=kill,
                 headers={**same, "Origin": "http://evil.example"}),
        _request(f"{console.base}/api/action?token={console.token}", method="POST", body=kill,
                 headers={**same, "Sec-Fetch-Site": "cross-site"}),
    ]
    assert refused == [403] * 5
    time.sleep(0.5)  # a kill would have shown by now (the supervisor answers after it)
    node = cli.node("service-f-1")
    assert (node["pid"], node["state"]) == (pid, "ready")
    # with the token, state reads work and a bad action is one clear 400
    assert _request(f"{console.base}/api/state?token={console.token}") == 200
    assert _request(f"{console.base}/api/action?token={console.token}", method="POST",
                    body={"action": "explode", "target": "x"}, headers=same) == 400
    # a second console on the first one's port: one line, exit 3, nothing served
    busy = cli.run("ui", "--port", console.base.rsplit(":", 1)[1], timeout=30)
    assert busy.returncode == 3 and "already in use" in busy.stderr, busy
    assert len(busy.stderr.strip().splitlines()) == 1 and busy.stdout == "", busy


def test_a_chaos_run_grows_its_timeline_on_the_page(page: Page, cli: Cli,
                                                    tmp_path: Path) -> None:
    run = subprocess.Popen(cli.argv("chaos", "--flows", "16", "--mix", "await-chain",
                                    "--faults", "kill", "--targets", "service-b",
                                    "--interval", "1:2", "--down", "0.5:1", "--min-faults", "2",
                                    "--fault-count", "2", "--seed", "7", "--concurrency", "2"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        page.wait_for("document.body.dataset.chaosVerdict === 'running' && "
                      "Number(document.body.dataset.chaosBars) > 0 && "
                      "Number(document.body.dataset.chaosBands) > 0", 40,
                      "the timeline drawn with a fault band while the run goes")
        page.screenshot(tmp_path / "console-mid-chaos.png")
        assert (tmp_path / "console-mid-chaos.png").stat().st_size > 10_000
        out, err = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
    assert run.returncode == 0, (out[-2000:], err[-2000:])
    page.wait_for("document.body.dataset.chaosVerdict === 'pass'", 10, "the verdict shown")
    assert int(page.eval("Number(document.body.dataset.chaosBands)")) >= 2

