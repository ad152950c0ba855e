"""The console's HTTP side (aiohttp): the page, its server-sent events, and actions.

Routes: ``GET /`` the page (script and style inline, nothing else to load),
``GET /events`` the stream (``event: state`` / ``event: chaos`` with the
JSON of :class:`~.feed.Feed`'s parts, ``event: gone`` when the topology
stopped), ``GET /api/state`` the current document, ``POST /api/action`` one
action (``web/actions.py``). Every request needs the HOME's token
(``?token=`` or ``X-Rpcdemo-Token``), else 403 and nothing happens; a
``POST`` also needs the page's ``X-Rpcdemo-Console`` header and, when the
browser sends them, a same-origin ``Origin`` and ``Sec-Fetch-Site``, so
another site's page cannot act even with the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from resonate_rpc_cli.web.actions import ActionError, Actor, parse_action
from resonate_rpc_cli.web.feed import Feed
from resonate_rpc_cli.web.page import render_page
from resonate_rpc_cli.web.token import token_matches

TOKEN_HEADER = "X-Rpcdemo-Token"
CONSOLE_HEADER = "X-Rpcdemo-Console"
PING_S = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FEED_KEY: web.AppKey[Feed] = web.AppKey("feed", Feed)
TOKEN_KEY: web.AppKey[str] = web.AppKey("token", str)
ACTOR_KEY: web.AppKey[Actor] = web.AppKey("actor", Actor)


def _refuse(why: str) -> web.Response:
    return web.Response(status=403, text=f"forbidden: {why}\n",
                        headers={"Cache-Control": "no-store"})


def same_origin_problem(request: web.Request) -> str | None:
    """Why a state-changing request does not come from the console's own page (None: it does)."""
    if request.headers.get(CONSOLE_HEADER) != "1":
        return f"a state-changing request needs the {CONSOLE_HEADER} header"
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return f"cross-origin request from {origin}"
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request ({site})"
    return None


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The token on every request; the same-origin rules on every POST."""
    given = request.query.get("token") or request.headers.get(TOKEN_HEADER)
    if not token_matches(request.app[TOKEN_KEY], given):
        return _refuse("a missing or wrong token (use the URL rpcdemo ui printed)")
    if request.method not in ("GET", "HEAD"):
        problem = same_origin_problem(request)
        if problem is not None:
            return _refuse(problem)
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


async def page(request: web.Request) -> web.Response:
    nonce = secrets.token_urlsafe(12)
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
           "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
           "frame-ancestors 'none'")
    state_json = request.app[FEED_KEY].state.json
    return web.Response(text=render_page(nonce, state_json), content_type="text/html",
                        headers={"Content-Security-Policy": csp})


async def state(request: web.Request) -> web.Response:
    feed = request.app[FEED_KEY]
    return web.Response(text=f'{{"state":{feed.state.json},"chaos":{feed.chaos.json},'
                             f'"gone":{json.dumps(feed.gone)}}}',
                        content_type="application/json")


async def events(request: web.Request) -> web.StreamResponse:
    """The stream: each part when it changed, a comment every few seconds, ``gone`` last."""
    feed = request.app[FEED_KEY]
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-store"})
    await resp.prepare(request)
    sent = {"state": -1, "chaos": -1}
    while True:
        changed = feed.changed_event()
        for name, part in (("state", feed.state), ("chaos", feed.chaos)):
            if part.version != sent[name] and part.version > 0:
                sent[name] = part.version
                await resp.write(f"event: {name}\ndata: {part.json}\n\n".encode())
        if feed.gone:
            await resp.write(b"event: gone\ndata: {}\n\n")
            return resp
        try:
            await asyncio.wait_for(changed.wait(), PING_S)
        except TimeoutError:
            await resp.write(b": ping\n\n")


async def action(request: web.Request) -> web.Response:
    """One action; 200 with its result, 400 for bad input, 409/503 when it failed."""
    try:
        body: Any = await request.json()
    except ValueError:
        return web.json_response({"ok": False, "error": "the body is not JSON"}, status=400)
    try:
        call = parse_action(body)
    except ActionError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    actor = request.app[ACTOR_KEY]
    try:
        result = await asyncio.to_thread(actor.perform, call)
    except ActionError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
    finally:
        request.app[FEED_KEY].nudge()
    return web.json_response({"ok": True, "result": result})


def make_app(feed: Feed, token: str, actor: Actor) -> web.Application:
    """The console's application (the feed's poller runs while it serves)."""
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[FEED_KEY], app[TOKEN_KEY], app[ACTOR_KEY] = feed, token, actor
    app.router.add_get("/", page)
    app.router.add_get("/events", events)
    app.router.add_get("/api/state", state)
    app.router.add_post("/api/action", action)

    async def poller(app: web.Application) -> Any:
        task = asyncio.create_task(feed.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    app.cleanup_ctx.append(poller)
    return app
