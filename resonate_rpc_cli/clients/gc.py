"""Asking rpcdemo's embedded server to drop call trees that settled long ago (``/rpcdemo/gc``)."""

from __future__ import annotations

import json
import urllib.error
from typing import TypedDict, cast

from resonate_rpc_cli.clients.http import exchange
from resonate_rpc_cli.clients.tokens import server_token
from resonate_rpc_cli.contracts.errors import NotRunningError, RpcdemoError


class Collected(TypedDict):
    """The server's answer (``rpcdemo gc --json`` passes it on as it came)."""

    trees: int
    promises: int
    tasks: int
    bytes: int
    dry_run: bool


def collect(server_url: str, older_than_s: float, dry_run: bool = False,
            timeout_s: float = 300.0) -> Collected:
    """``{"trees", "promises", "tasks", "bytes", "dry_run"}`` dropped (or, dry, droppable).

    Raises :class:`NotRunningError` if the server cannot be reached and
    :class:`RpcdemoError` if it is not rpcdemo's embedded server with extras.
    """
    body = json.dumps({"older_than_s": older_than_s, "dry_run": dry_run}).encode()
    try:
        status, raw = exchange("POST", server_url.rstrip("/") + "/rpcdemo/gc", body, timeout_s,
                               server_token(server_url))
    except (urllib.error.URLError, OSError) as exc:
        raise NotRunningError(f"cannot reach the server at {server_url}: {exc}") from None
    if status in (404, 405):
        raise RpcdemoError(f"the server at {server_url} has no /rpcdemo/gc (only rpcdemo's "
                           "embedded server without --no-extras collects)")
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if status != 200 or not isinstance(answer, dict):
        error = answer.get("error", status) if isinstance(answer, dict) else status
        raise RpcdemoError(f"gc failed on {server_url}: {error}")
    return cast("Collected", answer)
