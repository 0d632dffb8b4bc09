"""Noticing that a code we created was used: the order's codes mark it redeemed.

Shopify's ``orders/create`` lists ``discount_codes``; WooCommerce's order lists
``coupon_lines``. Both platforms treat codes case-insensitively (WooCommerce stores them
lower-cased), and ours are upper-case, so matching is on the upper-cased code.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.db.tables import Cart, Discount
from bridge.model import OrderInfo


def redeem_codes(session: Session, shop_id: int, order: OrderInfo, now: datetime) -> list[Cart]:
    """Mark this order's codes (ours) redeemed; returns the carts they were created for."""
    codes = {code.strip().upper() for code in order.discount_codes if code.strip()}
    if not codes:
        return []
    discounts = list(session.scalars(select(Discount).where(Discount.shop_id == shop_id, Discount.code.in_(codes))
                                     .with_for_update()))
    for discount in discounts:
        if discount.order_id is None:         # orders/paid after orders/create: the first order keeps it
            discount.status, discount.order_id, discount.redeemed_at = "redeemed", order.order_id, order.placed_at
            discount.updated_at = now
    carts = {d.cart_id for d in discounts}
    if not carts:
        return []
    return list(session.scalars(select(Cart).where(Cart.id.in_(carts)).order_by(Cart.id).with_for_update()))
