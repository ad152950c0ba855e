"""The embedded server survives its own kill -9, and fails cleanly when it cannot start."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from resonate_rpc_cli.clients.protocol import ResonateClient
from resonate_rpc_cli.contracts.errors import ExitStatus
from tests.e2e._server_support import (
    assert_no_leftovers,
    client_result,
    executions,
    home_env,
    start_client,
    start_server,
    start_worker,
    wait_listeners,
)
from tests.procs import PYTHON, ProcGroup, free_port, spawn, wait_until

pytestmark = pytest.mark.e2e


def test_kill_9_mid_flight_then_restart_on_the_same_store(procs: ProcGroup, tmp_path: Path) -> None:
    port = free_port()
    url, server = start_server(procs, tmp_path, port=port, memory=False)
    # An acknowledged promise (no target: nothing will ever touch it again).
    ResonateClient(url).request("promise.create", {"id": "acked", "timeoutAt": 2**62,
                                                   "param": {}, "tags": {"k": "v"}})
    for prefix, groups in {"p1": ["service-a"], "p2": ["service-b"], "p3": ["service-c"]}.items():
        start_worker(procs, tmp_path, url, groups, prefix, WORKER_DELAY="1.5",
                     WORKER_DELAY_FUNCS="baz")
    wait_listeners(url, {"service-a": ["p1-service-a"], "service-b": ["p2-service-b"],
                         "service-c": ["p3-service-c"]})
    client = start_client(procs, tmp_path, url, "foo", "service-a", {"await-chain": 11})
    wait_until(lambda: any(e["func"] == "baz" for e in executions(tmp_path)), 20,
               "the flow to reach baz")

    server.signal(signal.SIGKILL)
    server.popen.wait(5)
    url2, _ = start_server(procs, tmp_path, port=port, memory=False)
    assert url2 == url

    assert client_result(client, 45) == {"values": {"await-chain": 13}}
    acked = ResonateClient(url).promise_get("acked")
    assert acked is not None and acked["state"] == "pending" and acked["tags"] == {"k": "v"}
    assert_no_leftovers(procs, tmp_path)


def test_sigterm_exits_0_and_keeps_state(procs: ProcGroup, tmp_path: Path) -> None:
    port = free_port()
    url, server = start_server(procs, tmp_path, port=port, memory=False)
    assert "durable" in server.output() and str(tmp_path / "store.sqlite") in server.output()
    ResonateClient(url).request("promise.create", {"id": "kept", "timeoutAt": 2**62})
    server.signal(signal.SIGTERM)
    assert server.popen.wait(10) == 0, server.output()[-2000:]
    url, _ = start_server(procs, tmp_path, port=port, memory=False)
    kept = ResonateClient(url).promise_get("kept")
    assert kept is not None and kept["state"] == "pending"
    assert_no_leftovers(procs, tmp_path)


def test_memory_server_says_so_and_forgets(procs: ProcGroup, tmp_path: Path) -> None:
    _, server = start_server(procs, tmp_path)
    wait_until(lambda: "memory" in server.output(), 5, "the start line")
    assert not (tmp_path / "store.sqlite").exists()
    assert_no_leftovers(procs, tmp_path)


def test_default_store_is_under_rpcdemo_home(procs: ProcGroup, tmp_path: Path) -> None:
    port = free_port()
    server = procs.add(spawn([PYTHON, "-m", "resonate_rpc_cli.server", "--port", str(port)],
                             tmp_path / "server.log", env=home_env(tmp_path / "home")))
    wait_until(lambda: ResonateClient(f"http://127.0.0.1:{port}").healthy(), 15, "server")
    store = tmp_path / "home" / "store.sqlite"
    assert store.exists() and str(store) in server.output()
    assert os.stat(tmp_path / "home").st_mode & 0o777 == 0o700
    assert_no_leftovers(procs, tmp_path)


@pytest.mark.parametrize("clash", ["port", "store"])
def test_a_second_server_fails_with_one_line_and_exit_3(
    procs: ProcGroup, tmp_path: Path, clash: str
) -> None:
    port = free_port()
    start_server(procs, tmp_path, port=port, memory=False)
    if clash == "port":
        args = ["--port", str(port), "--memory"]
    else:
        args = ["--port", str(free_port()), "--store", str(tmp_path / "store.sqlite")]
    second = procs.add(spawn([PYTHON, "-m", "resonate_rpc_cli.server", *args],
                             tmp_path / f"second-{clash}.log", env=home_env(tmp_path)))
    assert second.popen.wait(15) == ExitStatus.NOT_RUNNING, second.output()
    out = second.output()
    assert "Traceback" not in out, out
    errors = [ln for ln in out.splitlines() if ln.startswith("rpcdemo server:")]
    assert len(errors) == 1, out
    assert (str(port) if clash == "port" else "in use by another server") in errors[0]
    assert_no_leftovers(procs, tmp_path)


def test_a_store_older_than_format_2_fails_with_one_line_and_exit_3(
    procs: ProcGroup, tmp_path: Path
) -> None:
    store = tmp_path / "old.sqlite"
    conn = sqlite3.connect(store)
    conn.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                       "INSERT INTO meta VALUES ('format', '1');")
    conn.close()
    server = procs.add(spawn([PYTHON, "-m", "resonate_rpc_cli.server", "--port", str(free_port()),
                              "--store", str(store)], tmp_path / "server.log",
                             env=home_env(tmp_path)))
    assert server.popen.wait(15) == ExitStatus.NOT_RUNNING, server.output()
    out = server.output()
    assert "Traceback" not in out, out
    errors = [ln for ln in out.splitlines() if ln.startswith("rpcdemo server:")]
    assert errors == [f"rpcdemo server: store {store} has format 1; this server reads only "
                      "format 2 (move the file aside to start with an empty store)"], out
    assert_no_leftovers(procs, tmp_path)


def _write_store(path: Path, trees: int) -> None:
    """``trees`` settled call trees of ten promises, written as the server stores them."""
    import msgspec  # noqa: PLC0415
    from resonate.connections.local import DurablePromise  # noqa: PLC0415

    from resonate_rpc_cli.server.records import PromiseRow  # noqa: PLC0415
    from resonate_rpc_cli.server.store import Store  # noqa: PLC0415

    encode = msgspec.msgpack.Encoder().encode
    rows = []
    for n in range(trees):
        root = f"t{n:05}"
        for pid in [root, *(f"{root}.{i}" for i in range(1, 10))]:
            p = DurablePromise(
                id=pid, state="resolved", param={"headers": {}, "data": None},
                value={"headers": {}, "data": f"v-{pid}"}, tags={"resonate:origin": root},
                timeout_at=2**62, created_at=1, settled_at=2, awaiters=set(), subscribers=set())
            rows.append((pid, encode(PromiseRow(p, None))))
    store = Store.open(path)
    store.write({"promises": rows}, {})
    store.close()


def test_a_restart_serves_before_reading_a_large_store_and_hides_nothing(
        procs: ProcGroup, tmp_path: Path) -> None:
    """40k stored promises: right after /ready (the server still reading its store),
    a settled promise the reader has not reached is found, a create with its id
    finds it (no new promise), and a tree search and the counts see every record."""
    _write_store(tmp_path / "store.sqlite", 4000)
    url, server = start_server(procs, tmp_path, memory=False)
    client = ResonateClient(url, timeout_s=30.0)
    last = client.promise_get("t03999.9")
    assert last is not None and last["state"] == "resolved"
    again = client.request("promise.create", {"id": "t03998.9", "timeoutAt": 2**62,
                                              "tags": {"resonate:origin": "t03998"}})
    assert again["promise"]["state"] == "resolved"
    assert again["promise"]["value"]["data"] == "v-t03998.9"
    tree = [p["id"] for p in client.promise_search(tags={"resonate:origin": "t03997"})]
    assert tree == ["t03997", *(f"t03997.{i}" for i in range(1, 10))]
    info = client.info()
    assert info is not None and info["promise_states"] == {"resolved": 40_000}
    wait_until(lambda: "loaded store" in server.output(), 30, "the load's log line")
    print(next(line for line in server.output().splitlines() if "loaded store" in line))
    assert_no_leftovers(procs, tmp_path)
