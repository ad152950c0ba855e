"""One blocking HTTP exchange with a JSON body, for every client of ours (stdlib only).

An HTTP error status is an answer, not an exception: :func:`exchange` returns
``(status, body bytes)`` for it as for a 2xx, and closes the error's response.
A connection that cannot be made or breaks raises ``urllib.error.URLError`` or
``OSError`` (timeouts included); each caller decides what that means for it.
"""

from __future__ import annotations

import urllib.error
import urllib.request


def exchange(
    method: str, url: str, body: bytes | None = None, timeout_s: float = 5.0,
    token: str | None = None,
) -> tuple[int, bytes]:
    """Send one request; return the status and the whole response body."""
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        with exc:  # closes the error's response and its socket
            return exc.code, exc.read()


def http_ok(url: str, timeout_s: float = 0.5) -> bool:
    """Whether ``GET url`` answers 200 within ``timeout_s``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
