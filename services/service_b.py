"""service-b: ``bar``, the middle of the await chain; awaits ``baz`` on service-c."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node

node = Node("service-b")


@node.register
async def bar(ctx: Context, arg: int) -> int:
    baz = await ctx.options(target="service-c").rpc("baz", arg)
    return await node.step(ctx, "bar", arg, children={"baz": baz})


if __name__ == "__main__":
    node.run()
