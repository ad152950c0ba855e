"""e2e: the browser console's life around its topology: `up --ui` serves it and stops with
the topology, `rpcdemo ui` answers bad input and a topology that is not there in one line,
and an open page and `ui` notice when the topology stops. The page's own behaviour on a
running topology: test_console.py."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request

import pytest

from tests.browser import chromium
from tests.cdp import Page
from tests.e2e._cli_support import assert_nothing_left, end_leftovers, new_cli, short_home
from tests.e2e._console_support import read_url
from tests.procs import wait_until

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(chromium() is None, reason="chromium is not installed")]


def test_up_ui_prints_the_url_and_the_page_sees_the_seed_topology() -> None:
    """`up --ui` in the foreground (no terminal: no live view) serves the console; Ctrl-C
    stops the console and the topology, and nothing is left."""
    with short_home() as home:
        c = new_cli(home)
        proc = subprocess.Popen(c.argv(*c.up_args("--ui")), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            url = read_url(proc, timeout=60)
            assert url.startswith("http://127.0.0.1:") and "token=" in url
            state = url.replace("/?", "/api/state?")

            def eleven() -> bool:
                with urllib.request.urlopen(state, timeout=5) as resp:
                    doc = json.loads(resp.read())
                return len(doc["state"]["nodes"]) == 11 if doc["state"] else False

            wait_until(eleven, 20, "the console's state with eleven nodes")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            assert "Traceback" not in err, err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            left = end_leftovers(home)
        assert not left, left
        assert_nothing_left(home)


def test_ui_bad_input_and_nothing_running_are_one_line() -> None:
    with short_home() as home:
        c = new_cli(home)
        nothing = c.run("ui")
        assert nothing.returncode == 3 and nothing.stdout == "", nothing
        assert len(nothing.stderr.strip().splitlines()) == 1, nothing.stderr
        exposed = c.run("ui", "--host", "0.0.0.0")  # a warning first, then nothing runs: 3
        assert exposed.returncode == 3 and "exposed:" in exposed.stderr, exposed
        bad = c.run("ui", "--port", "70000")
        assert bad.returncode == 2 and "--port" in bad.stderr, bad
        detached = c.run(*c.up_args("--detach", "--ui"))
        assert detached.returncode == 2 and "rpcdemo ui" in detached.stderr, detached
        assert len(detached.stderr.strip().splitlines()) == 1, detached.stderr
        assert_nothing_left(home)


def test_the_page_and_rpcdemo_ui_notice_when_the_topology_stops() -> None:
    """`down` under an open page: the page says the topology stopped, `ui` exits 3 in one line."""
    with short_home() as home:
        c = new_cli(home)
        try:
            up = c.run(*c.up_args("--detach", "--only", "gateway,service-a"))
            assert up.returncode == 0, up.stderr
            proc = subprocess.Popen(c.argv("ui"), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                url = read_url(proc)
                with Page() as page:
                    page.goto(url)
                    page.wait_for("document.body.dataset.nodes == 3", 10, "three nodes drawn")
                    assert c.run("down").returncode == 0
                    page.wait_for("document.body.dataset.gone === '1' && document.getElementById"
                                  "('banner').textContent.includes('stopped')", 15,
                                  "the page says the topology stopped")
                    assert page.blocked == []
                _, err = proc.communicate(timeout=15)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
            assert proc.returncode == 3, err
            assert err.strip().splitlines()[-1].startswith("rpcdemo: the topology stopped"), err
        finally:
            c.run("down")
            left = end_leftovers(home)
        assert not left, left
