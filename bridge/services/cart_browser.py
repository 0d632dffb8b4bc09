"""The admin page's view of carts: a filtered, paged list and one cart's timeline.

Read-only queries, always scoped to one shop: a cart id of another shop is "not found",
never a hint that it exists. Raw webhook bodies are never read here, only what a
delivery was (topic, time, status, reason).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Float, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from bridge.db.tables import Cart, Delivery, Discount, Message, MessageAttempt, ReminderStep, Shop

PAGE_SIZE = 50
# Entries at the same moment read in the order things happen: a delivery causes the
# step, the step sends the message, the message carries its code, the order closes it.
_KIND_ORDER = {"delivery": 0, "step": 1, "discount": 2, "message": 3, "order": 4}


@dataclass(frozen=True)
class CartFilters:
    state: str | None = None
    date_from: date | None = None       # created on or after, in the shop's time zone
    date_to: date | None = None         # created on or before (the whole day), same zone
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    search: str = ""                    # part of an email address
    email_hash: str | None = None       # the search's keyed hash, when it is a whole address


@dataclass(frozen=True)
class CartRow:
    cart: Cart
    reminders_sent: int


@dataclass(frozen=True)
class CartPage:
    rows: list[CartRow]
    total: int
    page: int
    pages: int

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def list_carts(session: Session, shop_id: int, filters: CartFilters, page: int) -> CartPage:
    """One page of the shop's carts matching ``filters``, most recently updated first.

    Offset paging: a shop's cart list is read by a person a few pages deep, and the
    ``(shop_id, updated_at)`` index serves both the order and the offset."""
    conditions = _conditions(session.get(Shop, shop_id), filters, session.get_bind().dialect.name)
    total = session.scalar(select(func.count()).select_from(Cart).where(*conditions)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    carts = list(session.scalars(
        select(Cart).where(*conditions).options(selectinload(Cart.items))
        .order_by(Cart.updated_at.desc(), Cart.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    sent = dict(session.execute(
        select(ReminderStep.cart_id, func.count()).where(
            ReminderStep.cart_id.in_([c.id for c in carts] or [-1]), ReminderStep.status == "sent")
        .group_by(ReminderStep.cart_id)).all())
    return CartPage([CartRow(c, sent.get(c.id, 0)) for c in carts], total, page, pages)


def _conditions(shop: Shop, filters: CartFilters, dialect: str) -> list:
    zone = ZoneInfo(shop.timezone or "UTC")
    found = [Cart.shop_id == shop.id]
    if filters.state:
        found.append(Cart.state == filters.state)
    if filters.date_from is not None:
        found.append(Cart.created_at >= _local_midnight(filters.date_from, zone))
    if filters.date_to is not None:
        found.append(Cart.created_at < _local_midnight(filters.date_to + timedelta(days=1), zone))
    total, number = Cart.total, Decimal
    if dialect == "sqlite":
        # Money is exact text on SQLite ("98.0" > "240.0" as strings): compare it as a
        # number there; a double holds any cart total's cents exactly enough for a range.
        total, number = cast(Cart.total, Float), float
    if filters.min_total is not None:
        found.append(total >= number(filters.min_total))
    if filters.max_total is not None:
        found.append(total <= number(filters.max_total))
    term = filters.search.strip().lower()
    if term:
        # An exact address also matches by its keyed hash: the same customer typed
        # differently (case, spaces) by the platform is still one customer.
        matches = [func.lower(Cart.email).contains(term, autoescape=True)]
        if filters.email_hash is not None:
            matches.append(Cart.email_hash == filters.email_hash)
        found.append(or_(*matches))
    return found


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class DeliveryEntry:
    """What a webhook delivery was; the body stays in the inbox."""
    topic: str
    received_at: datetime
    status: str
    reason: str | None


@dataclass(frozen=True)
class OrderEntry:
    order_id: str
    total: Decimal | None
    currency: str
    closed_at: datetime


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str                           # delivery | step | message | discount | order
    item: object
    attempts: tuple[MessageAttempt, ...] = ()


def find_cart(session: Session, shop_id: int, cart_id: int) -> Cart | None:
    cart = session.get(Cart, cart_id, options=[selectinload(Cart.items)])
    return cart if cart is not None and cart.shop_id == shop_id else None


def cart_timeline(session: Session, shop_id: int, cart_id: int) -> list[Entry] | None:
    """Everything that happened to one cart, oldest first; None when the shop has no such cart."""
    cart = find_cart(session, shop_id, cart_id)
    if cart is None:
        return None
    scope = dict(shop_id=shop_id, cart_id=cart_id)
    entries = [Entry(row.received_at, "delivery", DeliveryEntry(*row)) for row in session.execute(
        select(Delivery.topic, Delivery.received_at, Delivery.status, Delivery.reason).filter_by(**scope))]
    entries += [Entry(step.due_at, "step", step) for step in session.scalars(
        select(ReminderStep).filter_by(**scope))]
    entries += [Entry(code.created_at, "discount", code) for code in session.scalars(
        select(Discount).filter_by(**scope))]
    entries += _messages(session, shop_id, cart_id)
    if cart.order_id and cart.closed_at is not None:
        entries.append(Entry(cart.closed_at, "order",
                             OrderEntry(cart.order_id, cart.order_total, cart.currency, cart.closed_at)))
    return sorted(entries, key=lambda e: (e.at, _KIND_ORDER[e.kind]))


def _messages(session: Session, shop_id: int, cart_id: int) -> list[Entry]:
    messages = list(session.scalars(select(Message).filter_by(shop_id=shop_id, cart_id=cart_id)))
    attempts: dict[int, list[MessageAttempt]] = {}
    for attempt in session.scalars(select(MessageAttempt).where(
            MessageAttempt.message_id.in_([m.id for m in messages] or [-1])).order_by(MessageAttempt.number)):
        attempts.setdefault(attempt.message_id, []).append(attempt)
    return [Entry(m.sent_at or m.created_at, "message", m, tuple(attempts.get(m.id, ()))) for m in messages]
