"""The gateway's flow outcome against the SDK's listener refresh (the one-off "not found" 500).

The SDK (resonate 0.8.1) re-registers a listener for every pending
subscription once per refresh interval (60 s). ``rpc()`` subscribes before its
``promise.create`` reaches the server, so a refresh that lands in that window
is answered 404 and the SDK settles the handle rejected with
"promise <id> not found" although the create succeeds a moment later: the
gateway answered 500 for a flow that went on to finish. Here a real memory
server and the real SDK (HTTP + SSE) hit that window every time: the network
holds each ``promise.create`` until the refresh's ``promise.register_listener``
for the same id has been answered, and the refresh runs every 20 ms.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from resonate.connections import HttpConnection
from resonate.error import ApplicationError
from resonate.resonate import Resonate
from resonate.types import Value

from services.gateway import flow_outcome
from services.sse import NodeSSEConnection
from tests.e2e._server_support import start_server
from tests.procs import ProcGroup

pytestmark = pytest.mark.e2e

REFRESH_S = 0.02
HOLD_S = 10.0


class CreateAfterListener(HttpConnection):
    """Sends each ``promise.create`` only once a ``register_listener`` for its id was answered."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.answered: dict[str, asyncio.Event] = {}
        self.listener_statuses: dict[str, list[int]] = {}

    def _event(self, promise_id: str) -> asyncio.Event:
        return self.answered.setdefault(promise_id, asyncio.Event())

    async def send(self, req: str, headers: dict[str, str] | None = None) -> str:
        envelope = json.loads(req)
        kind, data = envelope.get("kind"), envelope.get("data") or {}
        if kind == "promise.create":
            await asyncio.wait_for(self._event(data["id"]).wait(), HOLD_S)
        resp = await super().send(req, headers)
        if kind == "promise.register_listener":
            status = json.loads(resp)["head"]["status"]
            self.listener_statuses.setdefault(data["awaited"], []).append(status)
            self._event(data["awaited"]).set()
        return resp


async def _with_sdk(url: str, body: Callable[[Resonate, CreateAfterListener], Awaitable[None]]
                    ) -> None:
    network = CreateAfterListener(url)
    source = NodeSSEConnection(url, pid="outcome-client", group="outcome-client")
    resonate = Resonate(network=network, group="outcome-client", pid="outcome-client",
                        sources=[source], subscription_refresh_secs=REFRESH_S, autostart=False)
    resonate.start()
    try:
        async with asyncio.timeout(30):
            while not source.connected:
                await asyncio.sleep(0.02)
            await body(resonate, network)
    finally:
        await resonate.stop()


async def _spuriously_rejected(resonate: Resonate, network: CreateAfterListener,
                               promise_id: str) -> Any:
    """An ``rpc`` handle the SDK rejected "not found" while the server holds the promise pending."""
    handle = resonate.options(target="nobody").rpc(promise_id, "fan_out_workflow", 3)
    await handle.id()  # the create went through, after the refresh's 404
    assert network.listener_statuses[promise_id][0] == 404, network.listener_statuses
    assert handle.done()
    with pytest.raises(ApplicationError, match=f"promise {promise_id} not found"):
        await handle.result()
    assert (await resonate.promises.get(promise_id)).state == "pending"
    return handle


def test_a_flow_rejected_by_the_sdk_refresh_waits_for_the_servers_outcome(
    procs: ProcGroup, tmp_path: Path
) -> None:
    url, _ = start_server(procs, tmp_path)

    async def body(resonate: Resonate, network: CreateAfterListener) -> None:
        handle = await _spuriously_rejected(resonate, network, "outcome-resolved")
        outcome = asyncio.ensure_future(flow_outcome(resonate, "outcome-resolved", handle))
        await resonate.promises.resolve("outcome-resolved", Value(data=42))
        assert await outcome == 42

    asyncio.run(_with_sdk(url, body))


def test_a_flow_really_rejected_keeps_its_own_error(procs: ProcGroup, tmp_path: Path) -> None:
    url, _ = start_server(procs, tmp_path)

    async def body(resonate: Resonate, network: CreateAfterListener) -> None:
        handle = await _spuriously_rejected(resonate, network, "outcome-canceled")
        await resonate.promises.cancel("outcome-canceled", Value(data="stop"))
        with pytest.raises(ApplicationError, match="Promise canceled"):
            await flow_outcome(resonate, "outcome-canceled", handle)

    asyncio.run(_with_sdk(url, body))
