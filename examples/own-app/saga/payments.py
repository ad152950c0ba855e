"""payments: ``charge`` and ``refund`` (a refund is the saga's compensation)."""

from __future__ import annotations

from typing import Any

from saga.worker import Context, recorded, serve, work


@recorded
async def debit(ctx: Context, order_id: str, amount: int) -> dict[str, Any]:
    await work()
    return {"charge": f"ch-{order_id}", "amount": amount}


@recorded
async def credit(ctx: Context, order_id: str, amount: int) -> dict[str, Any]:
    await work()
    return {"refund": f"rf-{order_id}", "amount": amount}


async def charge(ctx: Context, order_id: str, amount: int) -> dict[str, Any]:
    result: dict[str, Any] = await ctx.run(debit, order_id, amount)
    return result


async def refund(ctx: Context, order_id: str, amount: int) -> dict[str, Any]:
    result: dict[str, Any] = await ctx.run(credit, order_id, amount)
    return result


if __name__ == "__main__":
    serve("payments", [charge, refund])
