"""The server's HTTP odds and ends: a bounded body read, error bodies, the loop's clock.

Kept apart from :mod:`.app` (the routes) so that module stays a page of routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import msgspec
from aiohttp import web

from resonate_rpc_cli.server import wire
from resonate_rpc_cli.server.response import error_response

_json = msgspec.json.Encoder()


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` if it is longer than ``limit`` bytes (a body cut short: what came)."""
    length = request.content_length
    if length is not None:
        if length > limit:
            return None
        try:  # no async iterator per request: usually the body is already buffered
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            return exc.partial
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def error(status: int, message: str) -> web.Response:
    body = _json.encode(wire.envelope(error_response(None, None, status, message)))
    return web.Response(body=body, status=status, content_type="application/json")


def plain_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def loop_time() -> float:
    return asyncio.get_running_loop().time()


async def gather_quietly(aws: list[Awaitable[Any]]) -> None:
    if aws:
        await asyncio.gather(*aws, return_exceptions=True)
