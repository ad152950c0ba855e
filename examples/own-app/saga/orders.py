"""orders: ``place_order``, the saga: charge, then reserve; refund when the reservation fails."""

from __future__ import annotations

from typing import Any

from saga.worker import PRICES, Context, serve


async def place_order(ctx: Context, order_id: str, sku: str, qty: int) -> dict[str, Any]:
    """Charge the order, then reserve its items; when the reservation is refused, refund.

    Answers ``{"order", "status": "confirmed", "charged", "reservation"}`` or
    ``{"order", "status": "cancelled", "refunded", "reason"}``.
    """
    amount = PRICES.get(sku, 0) * qty
    payments = ctx.options(target="payments")
    await payments.rpc("charge", order_id, amount)
    try:
        held = await ctx.options(target="inventory").rpc("reserve", order_id, sku, qty)
    except Exception as exc:  # the reservation was refused: compensate
        back = await payments.rpc("refund", order_id, amount)
        return {"order": order_id, "status": "cancelled", "refunded": back["amount"],
                "reason": type(exc).__name__}
    return {"order": order_id, "status": "confirmed", "charged": amount,
            "reservation": held["reservation"]}


if __name__ == "__main__":
    serve("orders", [place_order])
