"""service-i: ``dop``, the other branch of the fan-out."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node

node = Node("service-i")


@node.register
async def dop(ctx: Context, arg: int) -> int:
    return await node.step(ctx, "dop", arg)


if __name__ == "__main__":
    node.run()
