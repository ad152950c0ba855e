"""rpcdemo: an operator CLI for durable RPC topologies built on Resonate."""

from __future__ import annotations

__version__ = "0.1.0"
