"""service-a: ``foo``, the head of the await chain (foo -> bar -> baz, each awaited)."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node

node = Node("service-a")


@node.register
async def foo(ctx: Context, arg: int) -> int:
    bar = await ctx.options(target="service-b").rpc("bar", arg)
    return await node.step(ctx, "foo", arg, children={"bar": bar})


if __name__ == "__main__":
    node.run()
