"""One blocking HTTP exchange with a JSON body, for every client of ours (stdlib only).

An HTTP error status is an answer, not an exception: :func:`exchange` returns
``(status, body bytes)`` for it as for a 2xx. A connection that cannot be made
or breaks, or an answer that is not HTTP, raises ``OSError`` (timeouts
included: ``TimeoutError``; ``https`` URLs go through urllib and may raise
``urllib.error.URLError``, an ``OSError`` too); each caller decides what that
means for it.

``http://`` is spoken over a plain socket (HTTP/1.1, ``Connection: close``),
since ``urllib.request`` and ``http.client`` take longer to import than a CLI
command has to answer (issue 21). Our peers (the embedded server, the gateway,
the real Resonate server) answer with ``Content-Length`` or chunked bodies; both
are read. Proxies from the environment are not used for ``http://``: every
peer of ours is reached directly.
"""

from __future__ import annotations

import re
import socket
import time
from typing import NamedTuple

_MAX_HEAD = 64 * 1024


class BadResponse(ConnectionError):
    """The peer's answer was not a well-formed HTTP/1.x response."""


def exchange(
    method: str, url: str, body: bytes | None = None, timeout_s: float = 5.0,
    token: str | None = None,
) -> tuple[int, bytes]:
    """Send one request; return the status and the whole response body."""
    parts = _split(url)
    if parts.scheme != "http":
        return _exchange_urllib(method, url, body, timeout_s, token)
    if parts.hostname is None:
        raise ValueError(f"no host in URL {url!r}")
    host = parts.hostname
    port = parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}",
            "Connection: close", "Accept-Encoding: identity",
            "Content-Type: application/json"]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(body or b'')}")
    if token:
        head.append(f"Authorization: Bearer {token}")
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
    deadline = time.monotonic() + timeout_s
    # an ASCII host as bytes: a str would load the idna codec (and unicodedata) to look it up
    address = host.encode() if host.isascii() else host
    with socket.create_connection((address, port), timeout=timeout_s) as sock:  # type: ignore[arg-type]  # getaddrinfo takes bytes
        sock.sendall(request)
        return _read_response(sock, deadline, method == "HEAD")


class _Parts(NamedTuple):
    scheme: str
    netloc: str
    hostname: str | None
    port: int | None
    path: str
    query: str


#: ``http://host:port/path?query`` with a lower-case name or IPv4 host: every URL of ours
_PLAIN_URL = re.compile(r"http://([a-z0-9.-]+):([0-9]{1,5})(/[^?#\s]*)?(?:\?([^#\s]*))?")


def _split(url: str) -> _Parts:
    """``urllib.parse.urlsplit``'s parts; the plain form without importing it (issue 21)."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None and int(plain[2]) <= 65535:
        host, port, path, query = plain.groups()
        return _Parts("http", f"{host}:{port}", host, int(port), path or "", query or "")
    from urllib.parse import urlsplit  # noqa: PLC0415

    parts = urlsplit(url)
    return _Parts(parts.scheme, parts.netloc, parts.hostname, parts.port, parts.path,
                  parts.query)


def http_ok(url: str, timeout_s: float = 0.5) -> bool:
    """Whether ``GET url`` answers 200 within ``timeout_s``."""
    try:
        status, _ = exchange("GET", url, None, timeout_s)
    except (OSError, ValueError):
        return False
    return status == 200


def _read_head(sock: socket.socket, deadline: float) -> tuple[int, dict[str, str], bytes]:
    """The status, the headers (lower-case names) and the body bytes read with them."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _MAX_HEAD:
            raise BadResponse("HTTP response head too long")
        chunk = _recv(sock, deadline)
        if not chunk:
            raise BadResponse("connection closed before a complete HTTP response head")
        data += chunk
    raw_head, _, rest = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return _status_of(lines[0]), headers, rest


def _read_response(sock: socket.socket, deadline: float, head_only: bool) -> tuple[int, bytes]:
    status, headers, rest = _read_head(sock, deadline)
    if head_only or status in (204, 304) or 100 <= status < 200:
        return status, b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, _read_chunked(sock, rest, deadline)
    length = headers.get("content-length")
    if length is not None:
        try:
            want = int(length)
        except ValueError:
            raise BadResponse(f"bad Content-Length {length!r}") from None
        while len(rest) < want:
            chunk = _recv(sock, deadline)
            if not chunk:
                raise BadResponse(f"connection closed after {len(rest)} of {want} body bytes")
            rest += chunk
        return status, rest[:want]
    while chunk := _recv(sock, deadline):  # no length: the body ends with the connection
        rest += chunk
    return status, rest


def _status_of(line: str) -> int:
    version, _, rest = line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise BadResponse(f"not an HTTP response: {line[:80]!r}")
    return int(code)


def _read_chunked(sock: socket.socket, data: bytes, deadline: float) -> bytes:
    body = b""
    while True:
        while b"\r\n" not in data:
            data += _more(sock, deadline)
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadResponse(f"bad chunk size {size_line[:20]!r}") from None
        if size == 0:
            return body  # trailers, if any, are not read: the connection closes
        while len(data) < size + 2:
            data += _more(sock, deadline)
        body += data[:size]
        data = data[size + 2:]


def _more(sock: socket.socket, deadline: float) -> bytes:
    chunk = _recv(sock, deadline)
    if not chunk:
        raise BadResponse("connection closed inside a chunked body")
    return chunk


def _recv(sock: socket.socket, deadline: float) -> bytes:
    """Up to 64 KiB; ``TimeoutError`` once the exchange's deadline has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    sock.settimeout(left)
    return sock.recv(65536)


def _exchange_urllib(
    method: str, url: str, body: bytes | None, timeout_s: float, token: str | None,
) -> tuple[int, bytes]:
    """``https://`` (and any other scheme urllib knows) through ``urllib.request``."""
    import urllib.error  # noqa: PLC0415  (slow imports, for TLS only)
    import urllib.request  # noqa: PLC0415

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
