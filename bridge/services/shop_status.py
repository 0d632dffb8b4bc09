"""A shop's health for the merchant: sequence and discount settings, consent and sending
manners, code counts, opt-outs, the last refusal from the platform and the steps it holds
or postpones; and releasing held steps."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bridge.db.tables import Discount, OptOut, ReminderStep, Shop
from bridge.discounts import DiscountKind, DiscountSetting
from bridge.services.shops import sequence_of


def describe_discount(setting: DiscountSetting) -> str:
    if not setting.active:
        return "no discount"
    value = {DiscountKind.PERCENTAGE: f"{setting.value}% off", DiscountKind.FIXED_AMOUNT: f"{setting.value} off",
             DiscountKind.FREE_SHIPPING: "free shipping"}[setting.kind]
    extras = [f"valid {setting.valid_hours} h", f"prefix {setting.code_prefix}"]
    if setting.minimum_subtotal is not None:
        extras.append(f"min. cart {setting.minimum_subtotal}")
    if setting.new_customers_only:
        extras.append("new customers only")
    return f"{value} ({', '.join(extras)})"


def shop_status(session: Session, shop: Shop) -> dict:
    sequence = sequence_of(session, shop)
    codes = dict(session.execute(select(Discount.status, func.count()).where(Discount.shop_id == shop.id)
                                 .group_by(Discount.status)).all())
    held = session.scalar(select(func.count()).where(ReminderStep.shop_id == shop.id, ReminderStep.status == "held"))
    return {
        "shop": f"{shop.id} {shop.platform} {shop.domain} ({shop.status})",
        "steps": [f"step {s.position}: {s.delay_minutes} min, {'on' if s.enabled else 'off'}, "
                  f"{describe_discount(s.discount)}" for s in sequence.steps],
        "send_without_discount": shop.send_without_discount,
        "expiry_reminder_hours": shop.expiry_reminder_hours,
        "codes": codes,
        "held_steps": held or 0,
        "discount_error": shop.discount_error,
        "discount_error_at": shop.discount_error_at,
        "manners": describe_manners(shop),
        "opted_out": session.scalar(select(func.count()).where(OptOut.shop_id == shop.id, OptOut.active.is_(True))),
        "waiting_steps": session.scalar(select(func.count()).where(
            ReminderStep.shop_id == shop.id, ReminderStep.status == "pending",
            ReminderStep.reason.like("waiting:%"))) or 0,
    }


def describe_manners(shop: Shop) -> list[str]:
    """The consent policy and sending manners, as the merchant reads them."""
    quiet = ("off" if shop.quiet_hours_start == shop.quiet_hours_end
             else f"{shop.quiet_hours_start:02d}:00-{shop.quiet_hours_end:02d}:00 in the customer's time zone")
    has_api = bool(shop.access_token_enc or shop.consumer_key_enc)
    orders = "on" if shop.open_order_check and has_api else (
        "off" if not shop.open_order_check else "not possible: no API credentials")
    return [f"consent policy: {shop.consent_policy}",
            f"frequency cap: {f'one message per {shop.frequency_cap_hours} h' if shop.frequency_cap_hours else 'off'}",
            f"quiet hours: {quiet}",
            f"re-entry cooldown: {f'{shop.reentry_cooldown_days} days' if shop.reentry_cooldown_days else 'off'}",
            f"other open order check: {orders}"]


def release_held(session: Session, shop: Shop, now: datetime) -> int:
    """Held steps go back to the queue: their code is tried again (or, if the shop now sends
    without a discount, they go out without one). Returns how many were released."""
    result = session.execute(update(ReminderStep).where(ReminderStep.shop_id == shop.id,
                                                        ReminderStep.status == "held")
                             .values(status="pending", due_at=now, reason=None, attempts=0, updated_at=now)
                             .execution_options(synchronize_session=False))
    return result.rowcount
