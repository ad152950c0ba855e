"""service-f: ``cog``, the tail of the detached chain; nobody awaits it, so it prints the value."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node, say

node = Node("service-f")


@node.register
async def cog(ctx: Context, arg: int) -> int:
    value = await node.step(ctx, "cog", arg)
    say(f"cog: detached chain {ctx.info.origin_id} final value {value}")
    return value


if __name__ == "__main__":
    node.run()
