"""Applying cart events to stored carts: upsert, re-plan, convert, remove (``services.events`` routes them).

Webhooks arrive out of order and more than once, so every rule here is written to be
safe under both: the cart row is locked (PostgreSQL) before it is changed, stale
updates lose by ``updated_at``, a converted cart never reopens, and an order that
arrived before its checkout converts that checkout the moment it shows up.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from bridge.contacts import ContactKeys
from bridge.db.tables import Cart, CartItem, Order, ReminderStep, Shop
from bridge.db.upsert import insert_ignore
from bridge.model import CartConverted, CartObserved, CartRemoved, CartSnapshot, CartState, OrderInfo
from bridge.rules import (CONVERTIBLE, LATE_STEP_REASON, REOPENABLE, abandon_at, converted_state, imported_too_late,
                          is_stale, order_is_for_cart, order_matches_by_contact, plan_steps)
from bridge.discounts import EXPIRY_STEP_OFFSET
from bridge.services.redemption import redeem_codes
from bridge.services.shops import sequence_of

OPEN_STEP = ("pending", "claimed")
CLOSED_BY_ORDER = (CartState.CONVERTED.value, CartState.RECOVERED.value)


def observe_cart(session: Session, shop: Shop, event: CartObserved, now: datetime, keys: ContactKeys) -> int:
    snap = _same_cart(session, shop.id, event.snapshot)
    created = insert_ignore(session, Cart, _new_cart_row(shop.id, snap, now), ("shop_id", "external_id"))
    cart = _locked_cart(session, shop.id, snap.external_id)
    if not created and (is_stale(snap.updated_at, cart.platform_updated_at)
                        or CartState(cart.state) not in REOPENABLE):
        return cart.id
    _copy_snapshot(session, cart, snap, now)
    cart.email_hash, cart.phone_hash = keys.email_hash(cart.email), keys.phone_hash(cart.phone)
    sequence = sequence_of(session, shop)
    cart.state, cart.abandon_at, cart.abandoned_at = CartState.OPEN.value, abandon_at(snap.updated_at, sequence), None
    order = _order_for(session, shop, cart)
    if order is not None:
        close_converted(session, cart, order, now)
    elif cart.email:
        if not _replan(session, cart, sequence, now) and cart.abandon_at <= now:
            # Imported after its whole sequence's time: abandoned then, and nothing is left to send.
            cart.state, cart.abandoned_at, cart.closed_at = CartState.EXPIRED.value, cart.abandon_at, now
    else:
        _cancel_open_steps(session, [cart.id], "no reachable contact", now)
    return cart.id


def convert(session: Session, shop: Shop, event: CartConverted, now: datetime, keys: ContactKeys) -> int | None:
    order = event.order
    _record_order(session, shop.id, order, now)
    row = session.scalars(select(Order).where(Order.shop_id == shop.id, Order.order_id == order.order_id)).one()
    # A cart already converted keeps the order it was attributed to (orders/paid after
    # orders/create, or a later order reusing a cart token).
    by_token = [c for c in _carts_by_token(session, shop.id, order.checkout_ref, order.cart_token)
                if c.state not in CLOSED_BY_ORDER]
    window = match_window(shop)
    by_contact = [c for c in _carts_by_contact(session, shop.id, order)
                  if c not in by_token and _contact_matches(order, c, window)]
    # The customer bought: every open cart of theirs from before the order stops, not
    # only the one the order names (two devices, two checkouts, one purchase).
    targets = by_token + by_contact
    # A code we sent, used on the order, attributes it to that code's cart even when the
    # customer came back through a new checkout (Shopify) or a new order (WooCommerce).
    targets += [c for c in redeem_codes(session, shop.id, order, now) if c not in targets
                and c.state not in CLOSED_BY_ORDER]
    for cart in targets:
        close_converted(session, cart, row, now)
    return targets[0].id if targets else None


def remove(session: Session, shop: Shop, event: CartRemoved, now: datetime, keys: ContactKeys) -> int | None:
    carts = _carts_by_token(session, shop.id, event.external_id, event.cart_token)
    for cart in carts:
        if CartState(cart.state) in CONVERTIBLE and not is_stale(event.occurred_at, cart.platform_updated_at):
            cart.state, cart.closed_at, cart.updated_at = CartState.REMOVED.value, event.occurred_at, now
            cart.platform_updated_at = event.occurred_at
            _cancel_open_steps(session, [cart.id], "removed on the platform", now)
    return carts[0].id if carts else None


def _same_cart(session: Session, shop_id: int, snap: CartSnapshot) -> CartSnapshot:
    """A checkout we do not know whose cart token belongs to a live cart is that cart.

    Shopify's reconciliation reads checkout extensibility's checkouts by their cart token
    (``cart:<token>``, see connectors.shopify_sync) while their webhooks carry the checkout
    token: whichever arrives first makes the cart, the other updates it, so a lost webhook
    never becomes a second cart and a second reminder."""
    if not snap.cart_token or session.scalar(select(Cart.id).where(
            Cart.shop_id == shop_id, Cart.external_id == snap.external_id)) is not None:
        return snap
    live = session.scalar(select(Cart.external_id).where(
        Cart.shop_id == shop_id, Cart.cart_token == snap.cart_token,
        Cart.state.in_([CartState.OPEN.value, CartState.ABANDONED.value])).order_by(Cart.id.desc()).limit(1))
    return replace(snap, external_id=live) if live else snap


def mark_abandoned(session: Session, now: datetime) -> int:
    """Open carts idle past their threshold become abandoned."""
    result = session.execute(update(Cart).where(Cart.state == CartState.OPEN.value, Cart.abandon_at <= now,
                                                Cart.email.is_not(None))
                             .values(state=CartState.ABANDONED.value, abandoned_at=Cart.abandon_at,
                                     updated_at=now).execution_options(synchronize_session=False))
    return result.rowcount


def _new_cart_row(shop_id: int, snap: CartSnapshot, now: datetime) -> dict:
    return dict(shop_id=shop_id, external_id=snap.external_id, currency=snap.currency, subtotal=snap.subtotal,
                total=snap.total, state=CartState.OPEN.value, platform_updated_at=snap.updated_at,
                created_at=now, updated_at=now)


def _locked_cart(session: Session, shop_id: int, external_id: str) -> Cart:
    return session.scalars(select(Cart).where(Cart.shop_id == shop_id, Cart.external_id == external_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


def _copy_snapshot(session: Session, cart: Cart, snap: CartSnapshot, now: datetime) -> None:
    contact = snap.contact
    cart.cart_token, cart.email, cart.phone = snap.cart_token, contact.email, contact.phone
    cart.first_name, cart.customer_id, cart.locale = contact.first_name, contact.customer_id, snap.locale
    cart.currency, cart.subtotal, cart.total = snap.currency, snap.subtotal, snap.total
    cart.recovery_url, cart.accepts_marketing = snap.recovery_url, snap.accepts_marketing
    cart.country, cart.timezone = snap.country, snap.timezone
    cart.platform_updated_at, cart.updated_at, cart.closed_at = snap.updated_at, now, None
    cart.items.clear()
    session.flush()  # old rows go before new ones take their (cart_id, position) keys
    cart.items = [CartItem(position=i, title=li.title, variant_title=li.variant_title, quantity=li.quantity,
                           unit_price=li.unit_price, product_id=li.product_id, variant_id=li.variant_id,
                           sku=li.sku, image_url=li.image_url, product_url=li.product_url)
                  for i, li in enumerate(snap.line_items, 1)]
    session.flush()


def _replan(session: Session, cart: Cart, sequence, now: datetime) -> bool:
    """Pending steps move with the new activity; sent or in-flight steps stay as they are.
    A step whose time had long passed when cartbridge first saw the cart is skipped
    (``rules.imported_too_late``). False when every planned step was skipped so."""
    planned = {p.position: p for p in plan_steps(cart.platform_updated_at, sequence)}
    existing = {s.position: s for s in session.scalars(select(ReminderStep).where(ReminderStep.cart_id == cart.id))}
    any_on_time = False
    for position, plan in planned.items():
        step = existing.get(position)
        late = imported_too_late(cart.created_at, plan.due_at)
        status, reason = ("skipped", LATE_STEP_REASON) if late else ("pending", None)
        any_on_time = any_on_time or not late
        if step is None:
            session.add(ReminderStep(cart_id=cart.id, shop_id=cart.shop_id, position=position, channel=plan.channel,
                                     due_at=plan.due_at, status=status, reason=reason, attempts=0, updated_at=now))
        elif step.status in ("pending", "cancelled") or step.reason == LATE_STEP_REASON:
            # A late-skipped step comes back when the customer returns: it is no longer late then.
            step.due_at, step.status, step.reason, step.updated_at = plan.due_at, status, reason, now
    for position, step in existing.items():
        # "Code expires soon" steps (100 + N) belong to a created code, not to the sequence.
        if position not in planned and step.status == "pending" and position < EXPIRY_STEP_OFFSET:
            step.status, step.reason, step.updated_at = "cancelled", "step disabled", now
    return any_on_time or not planned


def _cancel_open_steps(session: Session, cart_ids: list[int], reason: str, now: datetime) -> None:
    session.execute(update(ReminderStep).where(ReminderStep.cart_id.in_(cart_ids), ReminderStep.status.in_(OPEN_STEP))
                    .values(status="cancelled", reason=reason, updated_at=now)
                    .execution_options(synchronize_session=False))


def close_converted(session: Session, cart: Cart, order: Order, now: datetime) -> None:
    any_sent = session.scalar(select(exists().where(ReminderStep.cart_id == cart.id,
                                                    ReminderStep.status.in_(("sent", "unknown")))))
    cart.state = converted_state(bool(any_sent)).value
    cart.closed_at, cart.order_id, cart.order_total, cart.updated_at = order.placed_at, order.order_id, order.total, now
    _cancel_open_steps(session, [cart.id], "converted: order " + order.order_id, now)


def _record_order(session: Session, shop_id: int, order: OrderInfo, now: datetime) -> None:
    insert_ignore(session, Order, dict(
        shop_id=shop_id, order_id=order.order_id, checkout_ref=order.checkout_ref, cart_token=order.cart_token,
        email=order.email, customer_id=order.customer_id, total=order.total, currency=order.currency,
        placed_at=order.placed_at, received_at=now), ("shop_id", "order_id"))


def _carts_by_token(session: Session, shop_id: int, external_id: str | None, cart_token: str | None) -> list[Cart]:
    clauses = [clause for value, clause in ((external_id, Cart.external_id == external_id),
                                            (cart_token, Cart.cart_token == cart_token)) if value]
    if not clauses:
        return []
    return list(session.scalars(select(Cart).where(Cart.shop_id == shop_id, or_(*clauses))
                                .order_by(Cart.id).with_for_update()))


def _carts_by_contact(session: Session, shop_id: int, order: OrderInfo) -> list[Cart]:
    clauses = [clause for value, clause in ((order.email, Cart.email == order.email),
                                            (order.customer_id, Cart.customer_id == order.customer_id)) if value]
    if not clauses:
        return []
    states = [s.value for s in CONVERTIBLE]
    return list(session.scalars(select(Cart).where(Cart.shop_id == shop_id, Cart.state.in_(states), or_(*clauses))
                                .order_by(Cart.id).with_for_update()))


def _contact_matches(order: OrderInfo, cart: Cart, window: timedelta) -> bool:
    return order_matches_by_contact(order, cart.email, cart.customer_id, cart.platform_updated_at, window)


def orders_naming(session: Session, carts: list[Cart]) -> list[Order]:
    """Orders that may be these carts' purchases; ``order_for`` decides which is whose.

    One query per way an order can name a cart, each matching one (shop_id, ...) index,
    so the cost stays flat however many orders are stored.
    """
    shops, since = {c.shop_id for c in carts}, min(c.platform_updated_at for c in carts)
    keys = ((Order.checkout_ref, {c.external_id for c in carts}, False),
            (Order.cart_token, {c.cart_token for c in carts if c.cart_token}, False),
            (Order.email, {c.email for c in carts if c.email}, True),
            (Order.customer_id, {c.customer_id for c in carts if c.customer_id}, True))
    found: dict[int, Order] = {}
    for column, values, by_contact in keys:
        if values:
            query = select(Order).where(Order.shop_id.in_(shops), column.in_(values))
            if by_contact:  # an order placed before every one of these carts names none of them
                query = query.where(Order.placed_at >= since)
            found.update((o.id, o) for o in session.scalars(query))
    return list(found.values())


def order_for(cart: Cart, orders: list[Order], window: timedelta) -> Order | None:
    return next((o for o in orders if o.shop_id == cart.shop_id and order_is_for_cart(
        o, external_id=cart.external_id, cart_token=cart.cart_token, email=cart.email,
        customer_id=cart.customer_id, last_activity=cart.platform_updated_at, window=window)), None)


def match_window(shop: Shop) -> timedelta:
    return timedelta(minutes=shop.order_match_window_minutes)


def _order_for(session: Session, shop: Shop, cart: Cart) -> Order | None:
    """An order we already hold for this cart (it arrived before its checkout)."""
    return order_for(cart, orders_naming(session, [cart]), match_window(shop))
