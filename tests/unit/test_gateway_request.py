"""The gateway's request parsing: ids, args, timeouts (pure logic, no server)."""

from __future__ import annotations

import pytest

from resonate_rpc_cli.contracts.flows import DEFAULT_ARG, FLOWS
from services.config import ConfigError
from services.gateway import bind_address
from services.gateway_app import (
    DEFAULT_WAIT_S,
    BadRequest,
    FlowRequest,
    parse_flow_request,
    validate_id,
)

AWAIT = FLOWS["await-chain"]


def test_empty_body_uses_the_seed_static_id() -> None:
    for flow in FLOWS.values():
        assert parse_flow_request(b"", flow) == FlowRequest(flow.promise_id, DEFAULT_ARG,
                                                            DEFAULT_WAIT_S)
    assert parse_flow_request(b"  \n", AWAIT).promise_id == "await-chain"


def test_full_body() -> None:
    req = parse_flow_request(b'{"id": "order-17", "arg": -4, "timeout": 2.5}', AWAIT)
    assert req == FlowRequest("order-17", -4, 2.5)


@pytest.mark.parametrize("good", ["a", "x" * 128, "order.17", "A-b_c/d~!", "\u00e9t\u00e9"])
def test_valid_ids(good: str) -> None:
    assert validate_id(good) == good


@pytest.mark.parametrize("bad", ["", "x" * 129, "a b", "a\tb", "a\nb", "a\x00b", "a:b", None, 3,
                                 ["a"]])
def test_invalid_ids(bad: object) -> None:
    with pytest.raises(BadRequest):
        validate_id(bad)


@pytest.mark.parametrize("body", [b"null", b"3", b'"id"', b"[]", b"{", b"\xff",
                                  b'{"arg": 1e3}', b'{"arg": false}', b'{"arg": null}',
                                  b'{"timeout": -1}', b'{"timeout": 1e9}', b'{"timeout": true}',
                                  b'{"extra": 1}'])
def test_bad_bodies(body: bytes) -> None:
    with pytest.raises(BadRequest) as err:
        parse_flow_request(body, AWAIT)
    assert "\n" not in str(err.value)


def test_bind_address() -> None:
    assert bind_address({}) == ("127.0.0.1", 5000)
    assert bind_address({"RPCDEMO_GATEWAY_PORT": "0", "RPCDEMO_GATEWAY_HOST": "::1"}) == ("::1", 0)
    for bad in ("-1", "65536", "x"):
        with pytest.raises(ConfigError):
            bind_address({"RPCDEMO_GATEWAY_PORT": bad})
