"""service-g: ``zim``, the fan-out; starts ``rax`` and ``dop`` before awaiting either."""

from __future__ import annotations

from resonate.context import Context

from services.node import Node

node = Node("service-g")


@node.register
async def zim(ctx: Context, arg: int) -> int:
    promise_rax = ctx.options(target="service-h").rpc("rax", arg)
    promise_dop = ctx.options(target="service-i").rpc("dop", arg)
    rax = await promise_rax
    dop = await promise_dop
    return await node.step(ctx, "zim", arg, children={"rax": rax, "dop": dop})


if __name__ == "__main__":
    node.run()
