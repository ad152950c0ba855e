"""The embedded Resonate server: the SDK's ServerState behind the real wire protocol."""

from __future__ import annotations
