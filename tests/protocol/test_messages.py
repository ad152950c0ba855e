"""Messages pushed on ``GET /poll`` have the Rust server's shapes (schema.message_problems):
``execute`` with its ``head.serverUrl``, ``unblock`` with ``head: {}`` and a shaped promise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e._server_support import wait_listeners
from tests.procs import short_home
from tests.protocol.cases import FAR
from tests.protocol.schema import message_problems
from tests.protocol.stream import Stream
from tests.protocol.support import embedded, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with short_home() as home, embedded(home, durable=False) as server:
        yield server


def test_execute_and_unblock_messages(url: str) -> None:
    stream = Stream(url, "msgs", "p1")
    try:
        wait_listeners(url, {"msgs": ["p1"]})
        send(url, "promise.create", {"id": "m1", "timeoutAt": FAR, "param": {},
                                     "tags": {"resonate:target": "poll://any@msgs"}})
        execute = stream.next(5)
        assert execute is not None and message_problems(execute) == [], execute
        assert execute["head"]["serverUrl"] == url
        assert execute["data"]["task"] == {"id": "m1", "version": 0}

        send(url, "promise.create", {"id": "m2", "timeoutAt": FAR, "param": {}, "tags": {}})
        send(url, "promise.register_listener", {"awaited": "m2", "address": "poll://uni@msgs/p1"})
        send(url, "promise.settle", {"id": "m2", "state": "resolved", "value": {}})
        unblock = stream.next(5)
        assert unblock is not None and message_problems(unblock) == [], unblock
        assert unblock["head"] == {} and unblock["data"]["promise"]["value"] == {}
    finally:
        stream.close()
