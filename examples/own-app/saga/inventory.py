"""inventory: ``reserve`` items (refused when the stock is short) and ``quote`` a price."""

from __future__ import annotations

from typing import Any

from saga.worker import PRICES, STOCK, Context, recorded, serve, work


class OutOfStock(Exception):
    """Fewer items in stock than ordered: the reservation is refused (not retried)."""


@recorded
async def count(ctx: Context, sku: str) -> int:
    await work()
    return STOCK.get(sku, 0)


async def reserve(ctx: Context, order_id: str, sku: str, qty: int) -> dict[str, Any]:
    """Reserve ``qty`` of ``sku``; raise :class:`OutOfStock` when fewer are in stock.

    The stock is read in a step, and the refusal raised in the function body, which
    has made a durable call: the SDK rejects the promise rather than retrying it.
    """
    available: int = await ctx.run(count, sku)
    if available < qty:
        raise OutOfStock(f"{sku}: {qty} ordered, {available} in stock")
    return {"reservation": f"rs-{order_id}", "sku": sku, "qty": qty}


async def quote(ctx: Context, sku: str, qty: int) -> dict[str, Any]:
    """The price of ``qty`` of ``sku`` and whether it is in stock."""
    available: int = await ctx.run(count, sku)
    return {"sku": sku, "qty": qty, "total": PRICES.get(sku, 0) * qty,
            "in_stock": available >= qty}


if __name__ == "__main__":
    serve("inventory", [reserve, quote])
