"""The link proxy with real sockets on loopback: each fault, heal, many connections, SSE.

Each test runs one event loop holding an upstream server (an echo server or
an SSE-like event stream), a :class:`Link` in front of it, and clients
connecting to the link. Checks that something does *not* arrive wait a short
bounded time; everything else waits for the bytes themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from resonate_rpc_cli.links.proxy import Link

SILENCE_S = 0.3  # how long "nothing passes" is watched
WAIT_S = 5.0


@dataclass
class Upstream:
    """A loopback server; counts the connections it accepted."""

    server: asyncio.Server
    accepted: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        for w in self.accepted:
            w.close()
        await self.server.wait_closed()


async def echo_upstream() -> Upstream:
    up: Upstream

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up.accepted.append(writer)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    up = Upstream(await asyncio.start_server(handle, "127.0.0.1", 0))
    return up


async def sse_upstream(period_s: float = 0.02) -> Upstream:
    """Answers any request with an endless event stream: ``data: N`` every ``period_s``."""
    up: Upstream

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up.accepted.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n: ok\n\n")
        n = 0
        try:
            while True:
                writer.write(f"data: {n}\n\n".encode())
                await writer.drain()
                n += 1
                await asyncio.sleep(period_s)
        except ConnectionError:
            pass

    up = Upstream(await asyncio.start_server(handle, "127.0.0.1", 0))
    return up


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 30))


async def linked(up: Upstream) -> Link:
    link = Link("service-b-1", up.address)
    await link.start()
    return link


async def connect(link: Link) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", link.port)


async def roundtrip(r: asyncio.StreamReader, w: asyncio.StreamWriter, data: bytes) -> bytes:
    w.write(data)
    await w.drain()
    return await asyncio.wait_for(r.readexactly(len(data)), WAIT_S)


async def silent(r: asyncio.StreamReader, n: int = 1) -> bool:
    """True if nothing arrives on ``r`` for SILENCE_S."""
    try:
        await asyncio.wait_for(r.readexactly(n), SILENCE_S)
    except TimeoutError:
        return True
    return False


async def until[T](probe: Callable[[], T], what: str) -> T:
    deadline = time.monotonic() + WAIT_S
    while not (value := probe()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)
    return value


def test_a_healthy_link_passes_bytes_both_ways_and_counts_connections() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        r, w = await connect(link)
        assert await roundtrip(r, w, b"hello") == b"hello"
        status = link.status()
        assert (status.node, status.state, status.connections, status.port) == (
            "service-b-1", "ok", 1, link.port)
        w.close()
        await until(lambda: link.status().connections == 0, "the closed connection to go")
        await link.close()
        await up.close()

    run(body)


def test_partition_holds_open_and_new_connections_and_heal_delivers_in_order() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        r, w = await connect(link)
        assert await roundtrip(r, w, b"before") == b"before"
        link.partition()
        assert link.status().state == "partitioned"
        w.write(b"one-")
        w.write(b"two")
        assert await silent(r), "bytes crossed a partitioned link"
        r2, w2 = await connect(link)  # a new connection hangs too: never reaches the server
        w2.write(b"late")
        assert await silent(r2)
        assert len(up.accepted) == 1
        link.heal()
        assert link.status().state == "ok"
        assert await asyncio.wait_for(r.readexactly(7), WAIT_S) == b"one-two"
        assert await asyncio.wait_for(r2.readexactly(4), WAIT_S) == b"late"
        assert len(up.accepted) == 2
        await link.close()
        await up.close()

    run(body)


def test_a_timed_partition_heals_by_itself() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        r, w = await connect(link)
        before = time.time()
        link.partition(for_s=0.4)
        until_at = link.status().until
        assert until_at is not None and before + 0.3 < until_at < time.time() + 0.5
        w.write(b"x")
        assert await silent(r)
        assert await asyncio.wait_for(r.readexactly(1), WAIT_S) == b"x"
        assert (link.status().state, link.status().until) == ("ok", None)
        await link.close()
        await up.close()

    run(body)


def test_delay_slows_each_direction_and_never_reorders() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        r, w = await connect(link)
        link.delay(60, jitter_ms=40)
        status = link.status()
        assert (status.state, status.delay_ms, status.jitter_ms) == ("delayed", 60, 40)
        started = time.monotonic()
        assert await roundtrip(r, w, b"ping") == b"ping"
        assert time.monotonic() - started >= 2 * 0.020  # at least (60 - 40) ms each way
        chunks = [f"<{i}>".encode() for i in range(40)]
        for chunk in chunks:
            w.write(chunk)
            await w.drain()
        want = b"".join(chunks)
        assert await asyncio.wait_for(r.readexactly(len(want)), WAIT_S) == want
        link.heal()
        started = time.monotonic()
        assert await roundtrip(r, w, b"fast") == b"fast"
        assert time.monotonic() - started < 0.040
        await link.close()
        await up.close()

    run(body)


def test_reset_closes_every_connection_and_the_link_stays_up() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        conns = [await connect(link) for _ in range(3)]
        for r, w in conns:
            assert await roundtrip(r, w, b"a") == b"a"
        assert link.reset() == 3
        for r, _w in conns:
            with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
                await asyncio.wait_for(r.readexactly(1), WAIT_S)
        assert link.status().connections == 0
        r, w = await connect(link)
        assert await roundtrip(r, w, b"again") == b"again"
        await link.close()
        await up.close()

    run(body)


def test_many_connections_at_once_each_get_their_own_bytes() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        conns = [await connect(link) for _ in range(60)]

        async def talk(i: int) -> bytes:
            r, w = conns[i]
            return await roundtrip(r, w, f"conn-{i:03d}".encode() * 50)

        got = await asyncio.gather(*(talk(i) for i in range(60)))
        assert got == [f"conn-{i:03d}".encode() * 50 for i in range(60)]
        assert link.status().connections == 60
        await link.close()
        await up.close()

    run(body)


def test_a_large_transfer_survives_back_pressure() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        r, w = await connect(link)
        blob = bytes(range(256)) * 20_000  # 5 MB, far beyond the socket buffers

        async def send() -> None:
            w.write(blob)
            await w.drain()

        sender = asyncio.create_task(send())
        assert await asyncio.wait_for(r.readexactly(len(blob)), WAIT_S * 2) == blob
        await sender
        await link.close()
        await up.close()

    run(body)


def test_an_sse_stream_stalls_under_partition_and_continues_after_heal() -> None:
    async def body() -> None:
        up = await sse_upstream()
        link = await linked(up)
        r, w = await connect(link)
        w.write(b"GET /poll/service-b/x HTTP/1.1\r\nhost: s\r\n\r\n")
        head = await asyncio.wait_for(r.readuntil(b": ok\n\n"), WAIT_S)
        assert head.startswith(b"HTTP/1.1 200")

        async def event() -> int:
            line = await asyncio.wait_for(r.readuntil(b"\n\n"), WAIT_S)
            return int(line.removeprefix(b"data: ").strip())

        seen = [await event() for _ in range(3)]
        link.partition()
        # what was in flight when the partition began may still come through
        with_partition: list[int] = []
        try:
            while True:
                with_partition.append(
                    int((await asyncio.wait_for(r.readuntil(b"\n\n"), SILENCE_S))
                        .removeprefix(b"data: ").strip()))
        except TimeoutError:
            pass
        assert len(with_partition) < 5, f"the stream kept flowing: {with_partition}"
        link.heal()
        after = [await event() for _ in range(5)]
        numbers = seen + with_partition + after
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        await link.close()
        await up.close()

    run(body)


def test_a_server_that_refuses_resets_the_nodes_connection() -> None:
    async def body() -> None:
        up = await echo_upstream()
        address = up.address
        await up.close()
        link = Link("service-b-1", address)
        await link.start()
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            # the reset may come while connecting already: the link tries the server at once
            r, w = await connect(link)
            w.write(b"x")
            await asyncio.wait_for(r.readexactly(1), WAIT_S)
        await until(lambda: link.status().connections == 0, "the failed connection to go")
        await link.close()

    run(body)


def test_a_node_that_hangs_up_during_a_partition_is_let_go_after_the_heal() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        r, w = await connect(link)
        assert await roundtrip(r, w, b"a") == b"a"
        link.partition()
        w.close()
        r2, w2 = await connect(link)  # the link still serves while it holds the hung-up one
        # the kernel completes the connect before the relay thread accepts it: poll
        await until(lambda: link.status().connections == 2, "the relay to take the second")
        link.heal()
        await until(lambda: link.status().connections == 1, "the hung-up connection to go")
        assert await roundtrip(r2, w2, b"b") == b"b"
        await link.close()
        await up.close()

    run(body)


def test_a_large_transfer_under_delay_arrives_whole_and_in_order() -> None:
    async def body() -> None:
        up = await echo_upstream()
        link = await linked(up)
        r, w = await connect(link)
        link.delay(5, jitter_ms=5)
        blob = bytes(range(256)) * 8_000  # 2 MB: queued by the delay beyond the read limit
        w.write(blob)
        assert await asyncio.wait_for(r.readexactly(len(blob)), WAIT_S * 2) == blob
        await link.close()
        await up.close()

    run(body)
