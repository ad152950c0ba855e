"""The value inside a promise record's ``param`` or ``value``, as the application saw it."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def decode_payload(raw: Any) -> Any:
    """Decode the SDK's ``{"headers": ..., "data": base64(json)}``.

    ``None`` for an empty payload (no ``data``, or an empty one); ``data``
    itself when it is not base64 JSON; anything that is not a dict as it is.
    Never raises.
    """
    if not isinstance(raw, dict):
        return raw
    data = raw.get("data")
    if not isinstance(data, str):
        return data
    if not data:
        return None
    try:
        return json.loads(base64.b64decode(data, validate=True))
    except (ValueError, binascii.Error):
        return data
