"""``request.unwrap`` makes the same flat request as the SDK's ``unwrap_request_envelope``."""

from __future__ import annotations

import copy

import pytest
from resonate.connections.local import unwrap_request_envelope

from resonate_rpc_cli.server.request import unwrap

ENVELOPES: list[object] = [
    {"kind": "task.acquire", "head": {"corrId": "c1", "version": "2026-04-01"},
     "data": {"id": "a", "version": 0, "pid": "p", "ttl": 5}},
    {"kind": "promise.get", "head": {}, "data": {"id": "a"}},
    {"kind": "promise.get", "head": {"corrId": 7}, "data": {"id": "a", "corrId": "inner"}},
    {"kind": "promise.get", "head": {"corrId": "c"}, "data": ["not", "an", "object"]},
    {"kind": "promise.get", "head": "no head", "data": {"kind": "other", "id": "a"}},
    {"head": {"corrId": "c"}, "data": {"id": "a"}},
    {"kind": "promise.get", "id": "flat already"},
    ["not", "an", "object"],
    None,
]


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_unwrap_is_the_sdks_unwrap(envelope: object) -> None:
    assert unwrap(copy.deepcopy(envelope)) == unwrap_request_envelope(copy.deepcopy(envelope))
