"""Finding one customer's rows in one shop, and the data export built from them.

Carts by the keyed hashes of the email and phone (``bridge.contacts``), the platform's
customer id or the orders a request names; orders by email, customer id or those ids;
raw bodies by the quoted address. Used by ``services.privacy`` (erasure, Shopify's data
requests) and the CLI.
"""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Text, cast, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from bridge.db.tables import Cart, Delivery, Discount, Message, OptOut, Order, ReminderStep, Shop
from bridge.services.optouts import ContactRef

CENT = Decimal("0.01")
_ESCAPE = {0x00: "\\000", 0x5C: "\\\\"}  # PostgreSQL's encode(bytea, 'escape') rules
CART_FIELDS = ("external_id", "state", "email", "phone", "first_name", "customer_id", "locale", "country",
               "timezone", "currency", "subtotal", "total", "recovery_url", "accepts_marketing", "created_at",
               "updated_at", "abandoned_at", "closed_at", "order_id", "order_total")
ITEM_FIELDS = ("title", "variant_title", "quantity", "unit_price", "product_id", "variant_id", "sku",
               "image_url", "product_url")
STEP_FIELDS = ("position", "channel", "status", "reason", "due_at", "sent_at")
MESSAGE_FIELDS = ("to_email", "subject", "text", "language", "status", "created_at", "sent_at", "provider_status",
                  "delivered_at", "opened_at", "clicked_at", "bounced_at", "complained_at")
DISCOUNT_FIELDS = ("code", "kind", "value", "currency", "status", "starts_at", "expires_at", "redeemed_at",
                   "order_id")
ORDER_FIELDS = ("order_id", "total", "currency", "placed_at")
OPT_OUT_FIELDS = ("kind", "display", "active", "source", "reason", "created_at", "removed_at")


def export_contact(session: Session, shop: Shop, ref: ContactRef, customer_id: str | None = None,
                   order_ids: Iterable[str] = ()) -> dict:
    """Everything held about the customer in this shop, JSON-ready (ISO times, money as text)."""
    order_ids = tuple(order_ids)
    carts = list(session.scalars(select(Cart).where(Cart.id.in_(cart_ids(session, shop.id, ref, customer_id,
                                                                          order_ids)))
                                 .order_by(Cart.id).options(selectinload(Cart.items))))
    ids = [c.id for c in carts]
    steps, messages, codes = (_by_cart(session, model, ids) for model in (ReminderStep, Message, Discount))
    deliveries = session.scalars(select(Delivery).where(Delivery.shop_id == shop.id, or_(
        Delivery.cart_id.in_(ids), names_email(session, Delivery.body, ref.email))).order_by(Delivery.id))
    return {
        "shop": {"id": shop.id, "platform": shop.platform, "domain": shop.domain},
        "carts": [{**_pick(c, CART_FIELDS), "items": [_pick(i, ITEM_FIELDS) for i in c.items],
                   "reminders": [_pick(s, STEP_FIELDS) for s in steps.get(c.id, [])],
                   "messages": [_pick(m, MESSAGE_FIELDS) for m in messages.get(c.id, [])],
                   "discount_codes": [_pick(d, DISCOUNT_FIELDS) for d in codes.get(c.id, [])]} for c in carts],
        "orders": [_pick(o, ORDER_FIELDS) for o in session.scalars(
            select(Order).where(orders_of(shop.id, ref, customer_id, order_ids, ids)).order_by(Order.placed_at))],
        "opt_outs": [_pick(o, OPT_OUT_FIELDS) for o in session.scalars(
            select(OptOut).where(OptOut.shop_id == shop.id, OptOut.contact_hash.in_(
                hashes_of(ref, [(c.email_hash, c.phone_hash) for c in carts])))
            .order_by(OptOut.id))],
        "webhooks": [{"topic": d.topic, "received_at": _plain(d.received_at), "body": _decoded(d.body)}
                     for d in deliveries],
    }


def _by_cart(session: Session, model, cart_ids: list[int]) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for row in session.scalars(select(model).where(model.cart_id.in_(cart_ids)).order_by(model.id)):
        grouped.setdefault(row.cart_id, []).append(row)
    return grouped


def _pick(row, fields: tuple[str, ...]) -> dict:
    return {name: _plain(getattr(row, name)) for name in fields}


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):  # the same text from both databases: "98.00", "0.125"
        cents = value.quantize(CENT)
        return str(cents if cents == value else value.normalize())
    return value


def _decoded(body: bytes):
    try:
        return json.loads(body)
    except ValueError:  # a dead letter kept as it came: show it as text
        return bytes(body).decode("utf-8", "replace")


def cart_ids(session: Session, shop_id: int, ref: ContactRef, customer_id: str | None,
              order_ids: tuple[str, ...]) -> list[int]:
    clauses = [c for value, c in ((ref.email_hash, Cart.email_hash == ref.email_hash),
                                  (ref.phone_hash, Cart.phone_hash == ref.phone_hash),
                                  (customer_id, Cart.customer_id == customer_id),
                                  (order_ids, Cart.order_id.in_(order_ids))) if value]
    if not clauses:
        return []
    return list(session.scalars(select(Cart.id).where(Cart.shop_id == shop_id, or_(*clauses)).order_by(Cart.id)))


def orders_of(shop_id: int, ref: ContactRef, customer_id: str | None, order_ids: tuple[str, ...],
               cart_ids: list[int]):
    """The customer's orders: by email (platforms keep its case, so compared lowered),
    customer id, the ids the request names, and the orders that converted their carts."""
    named = select(Cart.order_id).where(Cart.id.in_(cart_ids), Cart.order_id.is_not(None))
    clauses = [c for value, c in ((ref.email, func.lower(Order.email) == ref.email),
                                  (customer_id, Order.customer_id == customer_id),
                                  (order_ids, Order.order_id.in_(order_ids))) if value]
    return (Order.shop_id == shop_id) & or_(Order.order_id.in_(named), *clauses)


def hashes_of(ref: ContactRef, pairs: Iterable[tuple[str | None, str | None]]) -> list[str]:
    """The request's hashes and those of the carts found (a cart found by customer id may
    carry the phone the request did not name)."""
    return sorted(set(ref.hashes) | {h for pair in pairs for h in pair if h})


def names_email(session: Session, column, email: str | None):
    """Does a raw JSON body hold the email as a string value (any case)? The same test on
    both databases. The quoted string, so that erasing anna@ leaves hanna@'s bodies alone
    (every platform field with an address is a string of its own), both as UTF-8 and as
    ``\\u`` escapes (Python and PHP escape non-ASCII by default)."""
    if not email:
        return false()
    needles = {json.dumps(email.lower()), json.dumps(email.lower(), ensure_ascii=False)}
    return or_(*(_contains(session, column, needle) for needle in sorted(needles)))


def _contains(session: Session, column, needle: str):
    if session.get_bind().dialect.name == "postgresql":
        # bytea as escaped text: ``\\nnn`` for non-ASCII bytes, never an error on invalid UTF-8.
        escaped = "".join(_ESCAPE.get(b) or (chr(b) if b < 0x80 else f"\\{b:03o}") for b in needle.encode())
        return func.strpos(func.lower(func.encode(column, "escape")), escaped) > 0
    return func.instr(func.lower(cast(column, Text)), needle) > 0
