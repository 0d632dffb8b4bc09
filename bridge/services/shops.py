"""Shops: creation from the CLI, sequence settings, and config export/import for agencies.

An export holds the sequence, the idle threshold, sender and language settings and
the template overrides: what an agency copies from one client to the next. It never
holds credentials or webhook secrets.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bridge.config_discounts import discount_to_json
from bridge.config_file import ConfigError, parse_config
from bridge.discounts import EXPIRY_STEP_OFFSET, DiscountKind, DiscountSetting
from bridge.crypto import SecretBox
from bridge.db.tables import ReminderStep, SequenceStep, Shop, Template
from bridge.manners import DEFAULT_POLICY
from bridge.rules import DEFAULT_SEQUENCE, SequenceSettings, StepSetting, validate_sequence

__all__ = ["ConfigError", "create_shop", "export_config", "import_config", "save_sequence", "sequence_of"]

CONFIG_VERSION = 1
SHOP_FIELDS = ("language", "timezone", "sender_name", "sender_email", "order_match_window_minutes",
               "send_without_discount", "expiry_reminder_hours", "consent_policy", "frequency_cap_hours",
               "quiet_hours_start", "quiet_hours_end", "reentry_cooldown_days", "open_order_check")


def create_shop(session: Session, box: SecretBox, *, platform: str, domain: str, name: str,
                now: datetime, access_token: str | None = None, consumer_key: str | None = None,
                consumer_secret: str | None = None, webhook_secret: str | None = None) -> Shop:
    shop = Shop(platform=platform, domain=domain, name=name, created_at=now, status="active",
                language="en", timezone="UTC", abandon_after_minutes=DEFAULT_SEQUENCE.abandon_after_minutes,
                consent_policy=DEFAULT_POLICY.value, frequency_cap_hours=16, quiet_hours_start=21, quiet_hours_end=8,
                reentry_cooldown_days=7, open_order_check=True,
                order_match_window_minutes=30 * 24 * 60,
                access_token_enc=box.seal(access_token), consumer_key_enc=box.seal(consumer_key),
                consumer_secret_enc=box.seal(consumer_secret), webhook_secret_enc=box.seal(webhook_secret))
    session.add(shop)
    session.flush()
    save_sequence(session, shop, DEFAULT_SEQUENCE)
    return shop


SECRET_COLUMNS = ("access_token_enc", "consumer_key_enc", "consumer_secret_enc", "webhook_secret_enc",
                  "webhook_secret_previous_enc", "refresh_token_enc", "sendgrid_api_key_enc")


def rotate_secrets(session: Session, box: SecretBox) -> int:
    """Re-encrypt every shop secret under the first key; returns how many were rewritten."""
    count = 0
    for shop in session.scalars(select(Shop)):
        for column in SECRET_COLUMNS:
            token = getattr(shop, column)
            if token is not None:
                setattr(shop, column, box.rotate(token))
                count += 1
    return count


def find_shop(session: Session, ref: str) -> Shop | None:
    """A shop by id or by domain/URL."""
    if ref.isdigit():
        return session.get(Shop, int(ref))
    return session.scalars(select(Shop).where(Shop.domain == ref)).first()


def sequence_of(session: Session, shop: Shop) -> SequenceSettings:
    rows = session.scalars(select(SequenceStep).where(SequenceStep.shop_id == shop.id)
                           .order_by(SequenceStep.position)).all()
    steps = tuple(StepSetting(r.position, r.delay_minutes, r.channel, r.enabled, discount_of(r)) for r in rows)
    return SequenceSettings(shop.abandon_after_minutes, steps or DEFAULT_SEQUENCE.steps)


def discount_of(row: SequenceStep) -> DiscountSetting:
    return DiscountSetting(DiscountKind(row.discount_kind), row.discount_value or Decimal("0"),
                           row.discount_valid_hours, row.discount_minimum, row.discount_new_customers_only,
                           row.discount_code_prefix)


def save_sequence(session: Session, shop: Shop, sequence: SequenceSettings, now: datetime | None = None) -> None:
    """Replace the shop's steps. With ``now`` (a merchant's change, not a new shop), waiting
    reminders of a step that was removed or turned off are cancelled at once: the merchant
    switched it off, so no cart may still get it (the others keep their planned times)."""
    errors = validate_sequence(sequence)
    if errors:
        raise ConfigError(errors)
    shop.abandon_after_minutes = sequence.abandon_after_minutes
    session.execute(delete(SequenceStep).where(SequenceStep.shop_id == shop.id))
    for step in sequence.steps:
        d = step.discount
        session.add(SequenceStep(shop_id=shop.id, position=step.position, delay_minutes=step.delay_minutes,
                                 channel=step.channel, enabled=step.enabled, discount_kind=d.kind.value,
                                 discount_value=d.value if d.active else None, discount_valid_hours=d.valid_hours,
                                 discount_minimum=d.minimum_subtotal, discount_new_customers_only=d.new_customers_only,
                                 discount_code_prefix=d.code_prefix))
    session.flush()
    if now is not None:
        cancel_retired_steps(session, shop.id, {s.position for s in sequence.steps if s.enabled}, now)


def cancel_retired_steps(session: Session, shop_id: int, enabled: set[int], now: datetime) -> int:
    """Pending steps at positions no longer enabled (the "code expires soon" ones are not sequence steps)."""
    result = session.execute(
        update(ReminderStep).where(ReminderStep.shop_id == shop_id, ReminderStep.status == "pending",
                                   ReminderStep.position < EXPIRY_STEP_OFFSET,
                                   ReminderStep.position.not_in(enabled or {-1}))
        .values(status="cancelled", reason="step turned off in the sequence", updated_at=now)
        .execution_options(synchronize_session=False))
    return result.rowcount


def export_config(session: Session, shop: Shop) -> dict:
    sequence = sequence_of(session, shop)
    templates = session.scalars(select(Template).where(Template.shop_id == shop.id)
                                .order_by(Template.step, Template.language)).all()
    return {
        "version": CONFIG_VERSION,
        "abandon_after_minutes": sequence.abandon_after_minutes,
        "steps": [{"delay_minutes": s.delay_minutes, "channel": s.channel, "enabled": s.enabled,
                   "discount": discount_to_json(s.discount)} for s in sequence.steps],
        **{name: getattr(shop, name) for name in SHOP_FIELDS},
        "templates": [{"step": t.step, "language": t.language, "subject": t.subject,
                       "html": t.html, "text": t.text} for t in templates],
    }


def import_config(session: Session, shop: Shop, data, now: datetime) -> None:
    """Replace the shop's sequence, settings and templates; all or nothing (ConfigError)."""
    config = parse_config(data)
    for name, value in config.shop_fields.items():
        setattr(shop, name, value)
    save_sequence(session, shop, config.sequence, now)
    session.execute(delete(Template).where(Template.shop_id == shop.id))
    for t in config.templates:
        session.add(Template(shop_id=shop.id, step=t.step, language=t.language, subject=t.source.subject,
                             html=t.source.html, text=t.source.text, updated_at=now))
    session.flush()
