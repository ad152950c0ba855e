"""service-d: ``qux``, the head of the detached chain; detaches ``quz`` and returns at once."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node

node = Node("service-d")


@node.register
async def qux(ctx: Context, arg: int) -> int:
    value = await node.step(ctx, "qux", arg)
    await ctx.options(target="service-e").detached("quz", value)  # fire and forget
    return value


if __name__ == "__main__":
    node.run()
