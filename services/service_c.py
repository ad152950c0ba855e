"""service-c: ``baz``, the tail of the await chain."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node

node = Node("service-c")


@node.register
async def baz(ctx: Context, arg: int) -> int:
    return await node.step(ctx, "baz", arg)


if __name__ == "__main__":
    node.run()
