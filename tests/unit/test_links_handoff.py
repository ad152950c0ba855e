"""The handoff of a link's connections to the server, with real sockets and a real aiohttp server.

The server (an aiohttp app answering ``GET /peer`` with the peer address it
sees, its own TCP listener plus a :class:`~resonate_rpc_cli.server.adopt.Adopter`)
runs on a thread of its own, as it runs in a process of its own in a topology.
A client that reached the server directly sees its own address come back; one
relayed by the link sees the link's upstream socket instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from aiohttp import web

from resonate_rpc_cli.links.handoff import Handoff
from resonate_rpc_cli.links.proxy import Link
from resonate_rpc_cli.server.adopt import Adopter, open_adopter

SILENCE_S = 0.3  # how long "nothing comes" is watched
WAIT_S = 5.0


class ServerThread:
    """An aiohttp server on 127.0.0.1 and its adopter at ``path``, on a private loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = 0
        self.adopter: Adopter | None = None
        self._loop = asyncio.new_event_loop()
        self._ready: Future[None] = Future()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        async def peer(request: web.Request) -> web.Response:
            host, port = request.transport.get_extra_info("peername")[:2]  # type: ignore[union-attr]
            return web.Response(text=f"{host}:{port}")

        app = web.Application()
        app.router.add_get("/peer", peer)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert runner.server is not None and site._server is not None
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        self.adopter = open_adopter(runner.server, {"RPCDEMO_ADOPT_SOCKET": str(self.path)})
        self._ready.set_result(None)
        await self._stop.wait()
        if self.adopter is not None:
            self.adopter.close()
        await runner.cleanup()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.result(WAIT_S)
        return self

    def adopted(self, link: str) -> int:
        assert self.adopter is not None
        adopter = self.adopter
        fut: Future[int] = Future()
        self._loop.call_soon_threadsafe(lambda: fut.set_result(adopter.count(link)))
        return fut.result(WAIT_S)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)
        self._loop.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path / "adopt.sock").start()
    yield srv
    srv.stop()


def get_peer(sock: socket.socket) -> str:
    """One keep-alive ``GET /peer`` on ``sock``; the body (raises OSError/TimeoutError)."""
    sock.sendall(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed")
        data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode()


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].decode().lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 0


def dial(port: int, timeout_s: float = WAIT_S) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    return sock


def wait_for(check: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    """Poll ``check`` until true or ``timeout_s``; its last answer (the server adopts on its
    own thread: its count may lag the answer the client already has)."""
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return check()


def me(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def test_the_socket_is_private_and_a_passed_fd_is_served_as_an_http_connection(
        server: ServerThread) -> None:
    assert stat.S_IMODE(server.path.stat().st_mode) == 0o600
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, dial(listener.getsockname()[1]) as client:
        accepted, _ = listener.accept()
        handoff = Handoff(server.path)
        try:
            assert handoff.give("n1", accepted)
        finally:
            accepted.close()  # our copy: the server holds its own now
            handoff.close()
        assert get_peer(client) == me(client)  # the server answered on the node's own socket
        assert get_peer(client) == me(client)  # and keeps it alive
        assert wait_for(lambda: server.adopted("n1") == 1)


def test_a_healthy_link_hands_over_a_fault_cuts_and_relays_and_heal_hands_over_again(
        server: ServerThread) -> None:
    async def main() -> None:
        handoff = Handoff(server.path)
        link = Link("n1", ("127.0.0.1", server.port), handoff=handoff)
        port = await link.start()
        try:
            await asyncio.to_thread(scenario, link, port)
        finally:
            await link.close()
            handoff.close()

    asyncio.run(main())


def scenario(link: Link, port: int) -> None:
    """The handoff's life on one link, from the node's side."""
    direct = dial(port)
    with direct:
        assert get_peer(direct) == me(direct)  # no hop: the server sees the node itself
        status = link.status()
        assert (status.path, status.handed_off, status.connections) == ("handoff", 1, 0)

        link.partition()  # cuts what was handed over: the node sees a reset
        assert link.cut_finished(WAIT_S)
        assert link.status().path == "proxy"
        with pytest.raises(OSError):
            get_peer(direct)

    with dial(port, SILENCE_S) as held:
        held.sendall(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(TimeoutError):
            held.recv(1)  # the new connection is relayed, and the partition holds it
        assert link.status().connections == 1
        link.heal()
        held.settimeout(WAIT_S)
        body = held.recv(65536).split(b"\r\n\r\n", 1)[1].decode()
        assert body and body != me(held)  # answered after the heal, through the relay

    with dial(port) as again:
        assert get_peer(again) == me(again)  # healed: handed over again
        assert link.status().handed_off == 2


def test_a_delay_or_a_reset_cuts_the_handed_over_connections_too(server: ServerThread) -> None:
    async def main() -> None:
        handoff = Handoff(server.path)
        link = Link("n2", ("127.0.0.1", server.port), handoff=handoff)
        port = await link.start()
        try:
            for fault in (lambda: link.delay(1.0), link.reset):
                link.heal()
                await asyncio.to_thread(cut_by, link, port, fault, server)
        finally:
            await link.close()
            handoff.close()

    asyncio.run(main())


def cut_by(link: Link, port: int, fault: object, server: ServerThread) -> None:
    with dial(port) as sock:
        assert get_peer(sock) == me(sock)
        assert wait_for(lambda: server.adopted("n2") == 1)
        assert callable(fault)
        fault()
        assert link.cut_finished(WAIT_S)
        with pytest.raises(OSError):
            get_peer(sock)
        assert server.adopted("n2") == 0


def test_with_no_server_to_adopt_the_link_relays_and_a_cut_is_done_at_once(
        tmp_path: Path) -> None:
    upstream = socket.create_server(("127.0.0.1", 0))

    async def main() -> None:
        handoff = Handoff(tmp_path / "nobody.sock")
        link = Link("n3", upstream.getsockname()[:2], handoff=handoff)
        port = await link.start()
        try:
            client = await asyncio.to_thread(dial, port)
            with client, contextlib.closing(await asyncio.to_thread(upstream_accept, upstream)):
                assert link.status().handed_off == 0
                assert link.status().connections == 1  # relayed, as without a handoff
            started = time.monotonic()
            assert handoff.cut("n3")  # nobody bound: nothing handed over lives, nothing to wait for
            assert time.monotonic() - started < 0.5
        finally:
            await link.close()
            handoff.close()
            upstream.close()

    asyncio.run(main())


def upstream_accept(listener: socket.socket) -> socket.socket:
    listener.settimeout(WAIT_S)
    return listener.accept()[0]


def test_a_cut_waits_for_room_in_a_full_queue_instead_of_being_dropped(tmp_path: Path) -> None:
    """The server's queue is full of gives (it is busy); a cut is kept trying, not lost."""
    path = tmp_path / "busy.sock"
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    busy.bind(str(path))
    handoff = Handoff(path)
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []
    try:
        with dial(listener.getsockname()[1]) as _client:
            accepted, _ = listener.accept()
            with accepted:
                gives = 0
                while handoff.give("n4", accepted):  # until the queue is full
                    gives += 1
                    assert gives < 10_000
            result: Future[bool] = Future()
            cutter = threading.Thread(target=lambda: result.set_result(
                handoff.cut_until_done("n4", patience_s=WAIT_S)))
            cutter.start()
            assert not wait_for(result.done, SILENCE_S)  # waiting for room, not given up
            busy.settimeout(WAIT_S)
            while not seen or seen[-1][:1] != b"C":  # the server catches up
                msg, fds, _, _ = socket.recv_fds(busy, 512, 1)
                seen.append(msg)
                for fd in fds:
                    with socket.socket(fileno=fd) as sock:
                        if msg[:1] == b"C":
                            sock.send(b"k")
            cutter.join(WAIT_S)
            assert result.result(0) is True
            assert len(seen) == gives + 1 and seen[-1] == b"Cn4"
    finally:
        handoff.close()
        busy.close()
        listener.close()
