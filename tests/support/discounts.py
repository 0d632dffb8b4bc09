"""Helpers for discount tests: a shop wired to a local platform API, and reading back state."""
from __future__ import annotations

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Discount, OutboxEntry, ReminderStep, Shop
from bridge.discounts import DEFAULT_STEP_DISCOUNT, DiscountSetting
from bridge.rules import SequenceSettings, StepSetting
from bridge.services.shops import create_shop, save_sequence
from bridge.services.store_access import store_tokens
from connectors.base import PlatformHttp, TokenSet
from tests.support.shops import NO_MANNERS


def discount_sequence(step2: DiscountSetting = DEFAULT_STEP_DISCOUNT) -> SequenceSettings:
    return SequenceSettings(60, (StepSetting(1, 60), StepSetting(2, 24 * 60, discount=step2),
                                 StepSetting(3, 72 * 60)))


def connect(runtime, http_client, timeout: float = 0.5) -> None:
    """Point the runtime's platform clients at a local API server (the real client libraries)."""
    runtime.platform_http = PlatformHttp(http_client, timeout, "2026-10")


def add_shop_with_codes(runtime, *, platform: str, domain: str, sequence: SequenceSettings | None = None,
                        expiry_reminder_hours: int | None = None, send_without_discount: bool = False,
                        tokens: TokenSet | None = None, **credentials) -> int:
    with unit_of_work(runtime.sessions) as session:
        shop = create_shop(session, runtime.box, platform=platform, domain=domain, name="Test Shop",
                           now=runtime.now(), **credentials)
        save_sequence(session, shop, sequence or discount_sequence())
        shop.expiry_reminder_hours, shop.send_without_discount = expiry_reminder_hours, send_without_discount
        for name, value in NO_MANNERS.items():   # the manners have their own tests
            setattr(shop, name, value)
        if tokens is not None:
            store_tokens(shop, runtime.box, tokens)
        return shop.id


def outbox(runtime) -> list[OutboxEntry]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def discounts(runtime) -> list[Discount]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(Discount).order_by(Discount.id)))


def steps(runtime) -> dict[int, ReminderStep]:
    with unit_of_work(runtime.sessions) as session:
        return {s.position: s for s in session.scalars(select(ReminderStep))}


def cart_state(runtime) -> str:
    with unit_of_work(runtime.sessions) as session:
        return session.scalars(select(Cart.state)).one()


def shop_row(runtime, shop_id: int) -> Shop:
    with unit_of_work(runtime.sessions) as session:
        return session.get(Shop, shop_id)


def set_shop(runtime, shop_id: int, **values) -> None:
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        for name, value in values.items():
            setattr(shop, name, value)


__all__ = ["discount_sequence", "connect", "add_shop_with_codes", "outbox", "discounts", "steps",
           "cart_state", "shop_row", "set_shop"]
