"""service-h: ``rax``, one branch of the fan-out."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node

node = Node("service-h")


@node.register
async def rax(ctx: Context, arg: int) -> int:
    return await node.step(ctx, "rax", arg)


if __name__ == "__main__":
    node.run()
