"""Which delivery addresses the protocol accepts (``resonate:target``, listeners).

The real server accepts what ``parse_address`` parses (src/transport/mod.rs:191-240):
``http(s)://...``, ``poll://uni@group[/id]``, ``poll://any@group[/id]`` (and
``gcps://``/``bash://``, transports this server does not have, so we refuse
them: a message to them could never be delivered). Group names keep their
case here (see delivery.py).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit


@lru_cache(maxsize=4096)  # a topology has a handful of addresses; parsing one costs ~5 us
def is_valid_address(address: str) -> bool:
    """Whether ``address`` is ``http(s)://host...`` or ``poll://(uni|any)@group[/id]``."""
    try:
        parts = urlsplit(address)
    except ValueError:
        return False
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    if parts.scheme != "poll":
        return False
    cast, at, group = parts.netloc.partition("@")
    return bool(at) and cast in ("uni", "any") and bool(group)
