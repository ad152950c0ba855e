"""A server whose store failed acknowledges nothing more (server/app.py): every request
between the failure and the end of its shutdown is answered 503 and changes nothing."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from resonate_rpc_cli.server.app import EmbeddedServer
from resonate_rpc_cli.server.config import ServerConfig
from resonate_rpc_cli.server.engine import Engine

CREATE = {"kind": "promise.create", "head": {"corrId": "1"},
          "data": {"id": "p", "timeoutAt": 10**13}}


async def _statuses() -> tuple[int, int, bool]:
    engine = Engine()
    server = EmbeddedServer(ServerConfig(), engine)
    async with TestClient(TestServer(server.make_app())) as client:
        before = (await client.post("/", json={**CREATE, "data": {"id": "q",
                                                                   "timeoutAt": 10**13}})).status
        server.fatal = "cannot write the redo log: No space left on device"
        after = await client.post("/", json=CREATE)
        body = await after.json()
        assert "store failure" in body["data"], body
        return before, after.status, "p" in engine.state.promises


def test_after_a_store_failure_every_request_is_refused_and_changes_nothing() -> None:
    before, after, applied = asyncio.run(_statuses())
    assert before == 200 and after == 503 and not applied
