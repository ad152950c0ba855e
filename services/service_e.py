"""service-e: ``quz``, the middle of the detached chain; detaches ``cog``, awaits nothing."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node

node = Node("service-e")


@node.register
async def quz(ctx: Context, arg: int) -> int:
    value = await node.step(ctx, "quz", arg)
    await ctx.options(target="service-f").detached("cog", value)  # fire and forget
    return value


if __name__ == "__main__":
    node.run()
