"""The console's feed: the live view's model, refreshed and published to every open page.

:class:`Feed` is the one poller of a console: on a worker thread it calls
:meth:`~resonate_rpc_cli.observe.live.LiveModel.refresh` (the same model and
rates as the terminal's live view; under ``up --ui`` with a terminal it is the
terminal view's own model, which that view refreshes, and the feed only reads
it) and reads the chaos run's progress once a second, then publishes
:func:`~.document.console_document`'s JSON when it changed. Pages only receive
(``web/app.py``'s server-sent events); they never make the console poll more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from resonate_rpc_cli.contracts.errors import NotRunningError
from resonate_rpc_cli.contracts.home import Home
from resonate_rpc_cli.observe.live import Every, LiveModel
from resonate_rpc_cli.web.chaos_feed import ChaosFeed
from resonate_rpc_cli.web.document import ConsoleDocumentJson, console_document

log = logging.getLogger("rpcdemo.console")


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str)


@dataclass
class Published:
    """One part of the page (``state`` or ``chaos``) as JSON, with a version per change."""

    json: str = "null"
    version: int = 0
    _key: str = ""

    def offer(self, key: str, text: str) -> bool:
        """Take ``text`` when ``key`` (its content without the clock) changed."""
        if key == self._key:
            return False
        self._key, self.json, self.version = key, text, self.version + 1
        return True


@dataclass
class Feed:
    """Polls one HOME's topology for every page the console serves."""

    home: Home
    period_s: float = 0.25
    model: LiveModel | None = None
    chaos_feed: ChaosFeed | None = None
    state: Published = field(default_factory=Published)
    chaos: Published = field(default_factory=Published)
    #: whether this feed refreshes the model (False: another view does, e.g. the terminal's
    #: live view of ``up --ui``, and the feed only reads what it polled)
    drives: bool = True
    #: set once the topology's supervisor stopped answering
    gone: bool = False
    chaos_every: Every = field(default_factory=lambda: Every(1.0))
    _changed: asyncio.Event | None = None

    def __post_init__(self) -> None:
        self.model = self.model or LiveModel(self.home)
        self.chaos_feed = self.chaos_feed or ChaosFeed(self.home)

    def poll(self) -> bool:
        """One refresh (blocking: run it on a worker thread); True when anything changed.

        Raises :class:`NotRunningError` when the supervisor is gone.
        """
        assert self.model is not None and self.chaos_feed is not None
        if self.drives:
            self.model.refresh()
        changed = False
        if self.chaos_every.due(time.monotonic()):
            chaos = self.chaos_feed.read()
            text = _dumps(chaos)
            changed = self.chaos.offer(text, text)
        doc = self._document()
        # the key leaves out the clock (``at_ms``, the document's last key)
        key = _dumps({k: v for k, v in doc.items() if k != "at_ms"})
        return self.state.offer(key, _dumps(doc)) or changed

    def _document(self) -> ConsoleDocumentJson:
        """The model's picture; when another thread refreshes it, a read that met a change
        half-way (a deque appended to while copied) is read again."""
        assert self.model is not None
        for _ in range(5):
            try:
                return console_document(self.model).to_dict()
            except RuntimeError:
                time.sleep(0.01)
        return console_document(self.model).to_dict()

    def nudge(self) -> None:
        """Make every poll due at once (after an action, so its effect shows now)."""
        assert self.model is not None
        for every in (self.model.node_every, self.model.promise_every, self.chaos_every):
            every.last = float("-inf")

    def changed_event(self) -> asyncio.Event:
        """An event set at the next publication (wait on it, then read the parts)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _publish(self) -> None:
        event, self._changed = self.changed_event(), asyncio.Event()
        event.set()

    async def run(self) -> None:
        """Poll every ``period_s`` until the supervisor goes away (then publish that).

        Any other failure of one poll (a reply it could not read) is logged and the next
        poll tries again: the pages keep the last picture rather than freezing for good.
        """
        while True:
            try:
                changed = await asyncio.to_thread(self.poll)
            except NotRunningError:
                self.gone = True
                self._publish()
                return
            except Exception as exc:  # one bad poll must not stop every page's updates
                log.warning("console poll failed: %s: %s", type(exc).__name__, exc)
                changed = False
                await asyncio.sleep(1.0)
            if changed:
                self._publish()
            await asyncio.sleep(self.period_s)
