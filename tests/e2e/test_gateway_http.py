"""The gateway's HTTP contract: JSON errors (400/404/405/503), health, exit codes.

A server and a gateway only (no services): nothing here needs a flow to run.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e._topology_support import Topology, assert_nothing_left, http, start_topology
from tests.procs import free_port, proc_group, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def topo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    home: Path = tmp_path_factory.mktemp("gateway-home")
    with proc_group() as procs:
        yield start_topology(procs, home, {"gateway": ("gateway", {})})
    assert_nothing_left(home)


def test_health_is_200_once_the_listener_is_connected(topo: Topology) -> None:
    status, body = http("GET", topo.gateway_url + "/health")
    assert status == 200 and isinstance(body, dict) and body["status"] == "ok", body
    info = topo.nodes["gateway"].ready()
    assert info is not None
    assert {"name", "group", "node_id", "pid", "ready_at"} <= set(info)
    assert (info["group"], info["node_id"]) == ("gateway", "gateway")


@pytest.mark.parametrize(("raw", "needle"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"id": "has space"}', "no spaces"),
    (b'{"id": "tab\\there"}', "printable"),
    (b'{"id": ""}', "empty"),
    (b'{"id": "a:b"}', "':'"),
    (b'{"id": 7}', "'id' must be a string"),
    (('{"id": "' + "x" * 129 + '"}').encode(), "at most 128"),
    (b'{"arg": "1"}', "'arg' must be an integer"),
    (b'{"arg": true}', "'arg' must be an integer"),
    (b'{"arg": 1.5}', "'arg' must be an integer"),
    (b'{"timeout": 0}', "'timeout' must be > 0"),
    (b'{"timeout": "soon"}', "'timeout' must be a number"),
    (b'{"idd": "x"}', "unknown field"),
])
@pytest.mark.parametrize("route", ["/await-chain", "/detached-chain", "/fan-out-workflow"])
def test_bad_bodies_get_400_with_a_json_error(
    topo: Topology, route: str, raw: bytes, needle: str
) -> None:
    status, body = http("POST", topo.gateway_url + route, raw=raw)
    assert status == 400, body
    assert isinstance(body, dict) and needle in body["error"], body


def test_an_id_of_exactly_128_characters_is_accepted(topo: Topology) -> None:
    # the detached route answers once the promise exists, even with no services running
    status, body = http("POST", topo.gateway_url + "/detached-chain", {"id": "y" * 128})
    assert (status, body) == (200, {"id": "y" * 128, "message": "detached-chain started"})


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("POST", "/await-chain/x"),
                                              ("DELETE", "/")])
def test_unknown_routes_get_404_json(topo: Topology, method: str, path: str) -> None:
    status, body = http(method, topo.gateway_url + path)
    assert status == 404 and isinstance(body, dict) and "no route" in body["error"], body


def test_wrong_method_gets_405_json(topo: Topology) -> None:
    status, body = http("GET", topo.gateway_url + "/await-chain")
    assert status == 405 and isinstance(body, dict), body
    assert "not allowed" in body["error"]


def test_unreachable_server_gets_503_naming_the_url_quickly(topo: Topology) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}"
    port = free_port()
    gw = topo.spawn_node("gateway-dead", "gateway",
                         {"RESONATE_URL": dead_url, "RPCDEMO_GATEWAY_PORT": str(port)})
    base = f"http://127.0.0.1:{port}"
    answer = wait_until(lambda: _answers(base + "/health"), 20, "the gateway to listen")
    assert answer is not None
    status, body = answer
    assert status == 503 and dead_url in body["error"], body
    for route in ("/await-chain", "/detached-chain", "/fan-out-workflow"):
        t0 = time.monotonic()
        status, body = http("POST", base + route, {"id": "nowhere"})
        assert status == 503, body
        assert body["server"] == dead_url and f"cannot reach Resonate server at {dead_url}" \
            in body["error"], body
        assert time.monotonic() - t0 < 3.0
    assert gw.ready() is None, "ready file written without a connected listener"
    gw.proc.signal(signal.SIGTERM)
    assert gw.proc.popen.wait(5) == 0, gw.proc.output()[-1000:]


def test_port_in_use_exits_3_with_one_line(topo: Topology) -> None:
    port = topo.gateway_url.rsplit(":", 1)[1]
    gw = topo.spawn_node("gateway-clash", "gateway", {"RPCDEMO_GATEWAY_PORT": port})
    assert gw.proc.popen.wait(20) == 3
    out = gw.proc.output().strip()
    assert "Traceback" not in out and len(out.splitlines()) == 1, out
    assert out.startswith("gateway: error: cannot listen on 127.0.0.1:" + port), out


@pytest.mark.parametrize(("var", "value"), [("RPCDEMO_GATEWAY_PORT", "http"),
                                            ("RPCDEMO_TTL", "-1"),
                                            ("RESONATE_URL", "ftp://x")])
def test_bad_environment_exits_2_with_one_line(topo: Topology, var: str, value: str) -> None:
    gw = topo.spawn_node(f"gateway-bad-{var.lower()}", "gateway", {var: value})
    assert gw.proc.popen.wait(20) == 2
    out = gw.proc.output().strip()
    assert len(out.splitlines()) == 1 and var in out and "Traceback" not in out, out


def test_sigterm_stops_the_gateway_with_exit_0(topo: Topology) -> None:
    gw = topo.start_nodes({"gateway-2": ("gateway", {"RPCDEMO_GATEWAY_PORT": "0"})})[0]
    gw.proc.signal(signal.SIGTERM)
    assert gw.proc.popen.wait(5) == 0, gw.proc.output()[-1000:]


def _answers(url: str) -> tuple[int, dict[str, str]] | None:
    try:
        status, body = http("GET", url, timeout=2)
    except OSError:
        return None
    return (status, body) if isinstance(body, dict) else None
