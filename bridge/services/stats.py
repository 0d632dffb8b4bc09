"""Recovery figures for the admin page: one shop's dashboard and the agency's shops list.

The cohort of a period is the carts *abandoned* in it: a period is the last N calendar
days of the shop's time zone, today included, up to ``now``. Of those carts: how many
were reminded (a message sent, or possibly sent: status ``unknown``), how many were
recovered (bought after a reminder) and for how much, per currency (a shop may sell in
several). The daily series counts a recovered cart on the day it was *abandoned*, so
both bars of a day describe the same carts. The funnel credits each order to the last
message sent before it (last-touch attribution).

A handful of grouped queries; the only per-cart rows read are three small columns for
the daily buckets, done in Python so the same code runs on SQLite and PostgreSQL (their
date functions differ). Money is summed in ten-thousandths as integers: SQLite stores
it as text, and a SQL SUM over text is a float.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Numeric, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from bridge.db.tables import Cart, Delivery, Message, ReminderStep, Shop

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
SENT = ("sent", "unknown")        # "unknown": the provider may have accepted it; never resent
SCALE = 10_000                    # Money has four decimals (NUMERIC(18, 4) on PostgreSQL)


def period_days(raw: object) -> int:
    """``?days=`` as one of the offered periods; anything else is the default."""
    return int(raw) if str(raw) in {str(p) for p in PERIODS} else DEFAULT_DAYS


@dataclass(frozen=True)
class Period:
    start: datetime                 # local midnight of the first day, as aware UTC
    end: datetime                   # now
    days: tuple[date, ...]          # local calendar days, oldest first
    zone: ZoneInfo


def period_of(now: datetime, tz_name: str, days: int) -> Period:
    zone = _zone(tz_name)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(0), tzinfo=zone)
    return Period(start, now, tuple(first + timedelta(days=i) for i in range(days)), zone)


@dataclass(frozen=True)
class StepFunnel:
    position: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    ordered: int = 0
    revenue: tuple[tuple[str, Decimal], ...] = ()     # attributed, largest first

    def revenue_per_recipient(self) -> tuple[tuple[str, Decimal], ...]:
        return tuple((cur, (amount / self.sent).quantize(Decimal("0.01"))) for cur, amount in self.revenue
                     if self.sent)


@dataclass(frozen=True)
class ShopStats:
    period: Period
    abandoned: int
    reminded: int
    recovered: int
    revenue: tuple[tuple[str, Decimal], ...]           # largest first
    series: tuple[tuple[date, int, int], ...]          # (local day, abandoned, recovered)
    funnel: tuple[StepFunnel, ...]

    rate = property(lambda self: recovery_rate(self.recovered, self.abandoned))


@dataclass(frozen=True)
class ShopSummary:
    shop_id: int
    abandoned: int
    recovered: int
    revenue: tuple[tuple[str, Decimal], ...]
    last_webhook_at: datetime | None
    rate = property(lambda self: recovery_rate(self.recovered, self.abandoned))


def recovery_rate(recovered: int, abandoned: int) -> Decimal | None:
    """Recovered / abandoned as a whole percent; None (shown as "—") when nothing was abandoned."""
    return (Decimal(100 * recovered) / abandoned).quantize(Decimal(1)) if abandoned else None


def shop_stats(session: Session, shop: Shop, now: datetime, days: int = DEFAULT_DAYS) -> ShopStats:
    period = period_of(now, shop.timezone or "UTC", days)
    cohort = and_(Cart.shop_id == shop.id, Cart.abandoned_at >= period.start, Cart.abandoned_at <= now)
    series, reminded = _series(session, cohort, period)
    revenue = session.execute(select(Cart.currency, func.sum(_scaled(Cart.order_total)))
                              .where(cohort, Cart.state == "recovered").group_by(Cart.currency)).all()
    return ShopStats(period, sum(d[1] for d in series), reminded, sum(d[2] for d in series), _by_amount(revenue),
                     series, _funnel(session, cohort))


def _series(session: Session, cohort, period: Period) -> tuple[tuple[tuple[date, int, int], ...], int]:
    """Per local day: carts abandoned, and of those recovered; plus how many were reminded.

    One row per cohort cart, three small columns: the day bucketing needs each time, and
    Python's zoneinfo does it the same way on both databases."""
    was_reminded = select(Message.id).where(Message.cart_id == Cart.id, Message.status.in_(SENT)).exists()
    counts = {day: [0, 0] for day in period.days}
    reminded = 0
    for abandoned_at, state, sent in session.execute(select(Cart.abandoned_at, Cart.state, was_reminded).where(cohort)):
        reminded += bool(sent)
        bucket = counts.get(abandoned_at.astimezone(period.zone).date())
        if bucket is not None:
            bucket[0] += 1
            bucket[1] += state == "recovered"
    return tuple((day, a, r) for day, (a, r) in counts.items()), reminded


def _funnel(session: Session, cohort) -> tuple[StepFunnel, ...]:
    rows = session.execute(
        select(ReminderStep.position, func.count(), func.count(Message.delivered_at), func.count(Message.opened_at),
               func.count(Message.clicked_at))
        .select_from(Message).join(ReminderStep, Message.step_id == ReminderStep.id)
        .join(Cart, Message.cart_id == Cart.id).where(cohort, Message.status.in_(SENT))
        .group_by(ReminderStep.position).order_by(ReminderStep.position)).all()
    ordered, revenue = _attributed(session, cohort)
    return tuple(StepFunnel(pos, sent, delivered, opened, clicked, ordered.get(pos, 0),
                            _by_amount(revenue.get(pos, {}).items()))
                 for pos, sent, delivered, opened, clicked in rows)


def _attributed(session: Session, cohort) -> tuple[dict[int, int], dict[int, dict[str, int]]]:
    """Per step position: recovered carts whose last message sent before the order was that step.

    "Last" is the latest send time, the higher message id on a tie, so every order is
    credited exactly once."""
    later = aliased(Message)
    when, later_when = _sent_time(Message), _sent_time(later)
    was_last = ~select(later.id).where(
        later.cart_id == Message.cart_id, later.status.in_(SENT), later_when <= Cart.closed_at,
        or_(later_when > when, and_(later_when == when, later.id > Message.id))).exists()
    rows = session.execute(
        select(ReminderStep.position, Cart.currency, func.count(), func.sum(_scaled(Cart.order_total)))
        .select_from(Message).join(Cart, Message.cart_id == Cart.id)
        .join(ReminderStep, Message.step_id == ReminderStep.id)
        .where(cohort, Cart.state == "recovered", Message.status.in_(SENT), when <= Cart.closed_at, was_last)
        .group_by(ReminderStep.position, Cart.currency)).all()
    ordered: dict[int, int] = defaultdict(int)
    revenue: dict[int, dict[str, int]] = defaultdict(dict)
    for position, currency, carts, scaled in rows:
        ordered[position] += carts
        revenue[position][currency] = scaled
    return ordered, revenue


def _sent_time(message):
    # A send whose outcome is unknown may have no sent_at; it was made when the row was.
    return func.coalesce(message.sent_at, message.created_at)


def shop_summaries(session: Session, shop_ids: list[int] | None, now: datetime,
                   days: int = DEFAULT_DAYS) -> dict[int, ShopSummary]:
    """Per shop: the period's abandoned, recovered, revenue and rate, and the last webhook received."""
    by_start = _shops_by_period_start(session, shop_ids, now, days)
    ids = [i for group in by_start.values() for i in group]
    if not ids:
        return {}
    # One query for all shops: each time zone's shops with their own period start.
    window = or_(*(and_(Cart.shop_id.in_(group), Cart.abandoned_at >= start) for start, group in by_start.items()))
    recovered = Cart.state == "recovered"
    rows = session.execute(
        select(Cart.shop_id, Cart.currency, func.count(), func.sum(case((recovered, 1), else_=0)),
               func.sum(case((recovered, _scaled(Cart.order_total)), else_=0)))
        .where(window, Cart.abandoned_at <= now).group_by(Cart.shop_id, Cart.currency)).all()
    last_seen = dict(session.execute(select(Delivery.shop_id, func.max(Delivery.received_at))
                                     .where(Delivery.shop_id.in_(ids)).group_by(Delivery.shop_id)).all())
    counts: dict[int, list] = {i: [0, 0, []] for i in ids}
    for shop_id, currency, abandoned, won, scaled in rows:
        counts[shop_id][0] += abandoned
        counts[shop_id][1] += won or 0
        if won:
            counts[shop_id][2].append((currency, scaled))
    return {i: ShopSummary(i, a, r, _by_amount(money), last_seen.get(i)) for i, (a, r, money) in counts.items()}


def _shops_by_period_start(session: Session, shop_ids, now: datetime, days: int) -> dict[datetime, list[int]]:
    query = select(Shop.id, Shop.timezone)
    if shop_ids is not None:
        query = query.where(Shop.id.in_(list(shop_ids) or [-1]))
    by_start: dict[datetime, list[int]] = defaultdict(list)
    for shop_id, tz_name in session.execute(query):
        by_start[period_of(now, tz_name or "UTC", days).start].append(shop_id)
    return by_start


def _scaled(amount):
    """Money in ten-thousandths as an integer: exact to sum on both databases."""
    return cast(func.round(cast(amount, Numeric(18, 4)) * literal(SCALE)), BigInteger)


def _by_amount(rows) -> tuple[tuple[str, Decimal], ...]:
    amounts = [(currency, Decimal(int(scaled or 0)) / SCALE) for currency, scaled in rows]
    return tuple(sorted(amounts, key=lambda pair: (-pair[1], pair[0])))


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (KeyError, ValueError):      # a bad stored zone must not take the page down
        return ZoneInfo("UTC")
