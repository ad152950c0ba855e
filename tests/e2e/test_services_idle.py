"""Idle nodes must not go deaf (DESIGN.md: the SDK's SSE listener dies after 300 s idle).

The fast test shrinks the client's total timeout to one second, through the
constructor hook of our source and through a subclass of the SDK's source that
changes nothing but the session's timeout, and shows the SDK's own reconnect
loop dying while ours reconnects and still receives work. The real ten-minute
idle check runs only with ``RPCDEMO_LONG_TESTS=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from resonate.connections.sse import SSEConnection

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts.flows import FLOWS
from services.sse import NodeSSEConnection
from tests.e2e._topology_support import assert_nothing_left, http, start_topology
from tests.procs import ProcGroup

pytestmark = pytest.mark.e2e

SHORT = aiohttp.ClientTimeout(total=1.0)
LONG_IDLE_S = 610.0


class SdkSourceWithShortTimeout(SSEConnection):
    """The SDK's source and reconnect loop, unchanged, except total=1 s instead of 300 s."""

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=SHORT)
        return self._session


async def poll(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def send_execute(url: str, group: str, promise_id: str) -> Awaitable[object]:
    """Create a promise targeted at ``group``: the server pushes an ``execute`` to it."""
    client = ResonateClient(url)
    data = {"id": promise_id, "timeoutAt": int(time.time() * 1000) + 60_000,
            "param": {"headers": {}, "data": None},
            "tags": {"resonate:target": f"poll://any@{group}"}}
    return asyncio.to_thread(client.request, "promise.create", data)


async def idle_scenario(url: str) -> None:
    sdk = SdkSourceWithShortTimeout(url, pid="sdk-source", group="idle-sdk")
    ours = NodeSSEConnection(url, pid="our-source", group="idle-ours", client_timeout=SHORT)
    received: list[str] = []
    ours.recv(received.append)
    await sdk.start()
    await ours.start()
    try:
        handle = sdk._sse_handle
        assert handle is not None
        # the SDK's loop: the timeout is not an aiohttp.ClientError, so it escapes and the
        # listener task ends for good
        await poll(handle.done, 10, "the SDK's listener to die")
        assert isinstance(handle.exception(), TimeoutError), handle
        # ours: the stream was cut too, and it came back
        await poll(lambda: ours.streams >= 3 and ours.connected, 10, "our source to reconnect")
        await send_execute(url, "idle-ours", "idle-probe")
        await poll(lambda: any("idle-probe" in m for m in received), 10, "our source to hear")
    finally:
        await ours.stop()
        # the SDK's stop() re-raises its dead listener's TimeoutError before closing the session
        with contextlib.suppress(TimeoutError):
            await sdk.stop()
        if sdk._session is not None:
            await sdk._session.close()


def test_sdk_source_goes_deaf_on_client_timeout_and_ours_recovers(
    procs: ProcGroup, tmp_path: Path
) -> None:
    # the server must not end streams first, or it would hide the client's timeout
    topo = start_topology(procs, tmp_path / "home", server_args=["--stream-lifetime", "3600"])
    asyncio.run(idle_scenario(topo.url))
    procs.close()
    assert_nothing_left(tmp_path / "home")


@pytest.mark.skipif(os.environ.get("RPCDEMO_LONG_TESTS") != "1",
                    reason="ten-minute idle check; set RPCDEMO_LONG_TESTS=1")
def test_nodes_idle_for_ten_minutes_still_take_work(procs: ProcGroup, tmp_path: Path) -> None:
    home = tmp_path / "home"
    topo = start_topology(procs, home, {
        "gateway": ("gateway", {}), "service-a-1": ("service-a", {}),
        "service-b-1": ("service-b", {}), "service-c-1": ("service-c", {}),
    }, server_args=["--stream-lifetime", "3600"])
    flow = FLOWS["await-chain"]
    assert http("POST", topo.gateway_url + flow.route, {"id": "before-idle"})[0] == 200
    time.sleep(LONG_IDLE_S)  # the idleness is the point of this test, not a wait for a condition
    status, body = http("POST", topo.gateway_url + flow.route, {"id": "after-idle", "arg": 9},
                        timeout=60)
    assert (status, body) == (200, {"id": "after-idle", "message": flow.expected(9)})
    procs.close()
    assert_nothing_left(home)
