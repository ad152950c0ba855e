"""Headless Chromium driven over its DevTools protocol, for tests of live pages.

:class:`Page` starts Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run``
installs it) with a fresh profile in its own process session, opens one tab
and talks CDP to it over a WebSocket (aiohttp's client, which the project
has already). Every request the page makes passes through the Fetch domain:
one to anything but 127.0.0.1 is failed and recorded in :attr:`Page.blocked`,
so a test proves the page needs nothing from outside. :meth:`Page.close`
kills the browser's session; no browser process outlives the test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tests.browser import FLAGS, chromium

LOOPBACK = ("127.0.0.1",)


class CdpError(RuntimeError):
    """Chromium answered a command with an error, or did not start."""


class Page:
    """One headless tab; every method blocks (the protocol runs on a thread of its own)."""

    def __init__(self, size: tuple[int, int] = (1400, 1000)) -> None:
        binary = chromium()
        if binary is None:
            raise CdpError("chromium is not installed")
        self.blocked: list[str] = []
        self.loaded: list[str] = []
        self.console: list[str] = []
        self._profile = tempfile.mkdtemp(prefix="rpcdemo-cdp-")
        self._proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
             f"--window-size={size[0]},{size[1]}", "--hide-scrollbars", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            start_new_session=True, text=True)
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._gates: set[asyncio.Task[None]] = set()
        self._drain: threading.Thread | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        try:
            self._run(self._connect(self._devtools_url()), 30)
        except BaseException:
            self.close()
            raise

    # -- plumbing ----------------------------------------------------------------------

    def _devtools_url(self) -> str:
        assert self._proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self._proc.stderr.readline()
            if not line and self._proc.poll() is not None:
                break
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                # keep draining stderr so chromium never blocks on a full pipe
                self._drain = threading.Thread(target=self._proc.stderr.read, daemon=True)
                self._drain.start()
                return found.group(1)
        raise CdpError("chromium did not start its DevTools endpoint")

    def _run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self, url: str) -> None:
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        target = await self._send("Target.createTarget", {"url": "about:blank"})
        attached = await self._send("Target.attachToTarget",
                                    {"targetId": target["targetId"], "flatten": True})
        self._session = attached["sessionId"]
        await self._send("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, self._session)
        for domain in ("Page.enable", "Runtime.enable"):
            await self._send(domain, {}, self._session)

    async def _send(self, method: str, params: dict[str, Any],
                    session: str | None = None) -> Any:
        n = next(self._ids)
        msg: dict[str, Any] = {"id": n, "method": method, "params": params}
        if session is not None:
            msg["sessionId"] = session
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._waiting[n] = fut
        await self._ws.send_str(json.dumps(msg))
        return await fut

    async def _read(self) -> None:
        async for frame in self._ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            msg = json.loads(frame.data)
            if "id" in msg:
                fut = self._waiting.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    if "error" in msg:
                        fut.set_exception(CdpError(str(msg["error"])))
                    else:
                        fut.set_result(msg.get("result", {}))
            elif msg.get("method") == "Fetch.requestPaused":
                task = asyncio.create_task(self._gate(msg["params"]))
                self._gates.add(task)
                task.add_done_callback(self._gates.discard)
            elif msg.get("method") == "Runtime.consoleAPICalled":
                args = msg["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", "")) for a in args))

    async def _gate(self, params: dict[str, Any]) -> None:
        """Let requests to 127.0.0.1 through; fail (and record) every other one."""
        url = params["request"]["url"]
        host = urlsplit(url).hostname
        if host in LOOPBACK or url.startswith(("data:", "about:")):
            self.loaded.append(url)
            await self._send("Fetch.continueRequest", {"requestId": params["requestId"]},
                             self._session)
        else:
            self.blocked.append(url)
            await self._send("Fetch.failRequest", {"requestId": params["requestId"],
                                                   "errorReason": "BlockedByClient"},
                             self._session)

    # -- what tests call -----------------------------------------------------------------

    def goto(self, url: str) -> None:
        self._run(self._send("Page.navigate", {"url": url}, self._session), 30)

    def eval(self, expression: str, timeout: float = 30.0) -> Any:
        """The value of ``expression`` in the page (promises awaited); CdpError if it threw."""
        answer = self._run(self._send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True},
            self._session), timeout)
        if "exceptionDetails" in answer:
            raise CdpError(f"{expression[:80]}: {answer['exceptionDetails'].get('text')} "
                           f"{answer['exceptionDetails'].get('exception', {}).get('description')}")
        return answer.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        """Poll ``expression`` until truthy; AssertionError with the last value at the deadline."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.eval(expression)
            except CdpError as exc:
                last = str(exc)
            else:
                if last:
                    return last
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"last: {last!r}")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """Click the first element matching ``selector`` (AssertionError if none)."""
        sel = json.dumps(selector)
        clicked = self.eval(f"(() => {{ const e = document.querySelector({sel}); "
                            "if (!e) return false; "
                            "e.dispatchEvent(new MouseEvent('click', {bubbles: true})); "
                            "return true; })()")
        assert clicked, f"nothing to click at {selector}"

    def screenshot(self, out: Path) -> None:
        """A PNG of the whole page (not only the window) at ``out``."""
        size = self._run(self._send("Page.getLayoutMetrics", {}, self._session), 30)
        content = size.get("cssContentSize") or size["contentSize"]
        clip = {"x": 0, "y": 0, "width": content["width"], "height": content["height"],
                "scale": 1}
        shot = self._run(self._send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "clip": clip}, self._session), 30)
        out.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._shutdown(), 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(10)
        if self._drain is not None:
            self._drain.join(5)
        if self._proc.stderr is not None:
            self._proc.stderr.close()
        if not self._thread.is_alive():
            self._loop.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    async def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()
        self._reader.cancel()
        for task in list(self._gates):
            task.cancel()
        await asyncio.gather(self._reader, *self._gates, return_exceptions=True)
        await self._http.close()

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
