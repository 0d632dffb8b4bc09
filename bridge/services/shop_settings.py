"""A shop's settings as the admin Settings page edits them, and its connection status.

Validation is the config file's (``bridge.config_file``): the admin page and ``config
import`` refuse the same values with the same reasons. The shop's own SendGrid key is
write-only: stored sealed (``SecretBox``), shown as its last 4 characters, never logged.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bridge.config_file import check_shop_fields
from bridge.contacts import deliverable_email
from bridge.crypto import SecretBox
from bridge.db.tables import Delivery, ReminderStep, Shop

log = logging.getLogger(__name__)

FIELDS = ("sender_name", "sender_email", "consent_policy", "quiet_hours_start", "quiet_hours_end",
          "frequency_cap_hours", "reentry_cooldown_days", "open_order_check", "timezone", "language")
# SendGrid shows a key once, at creation: "SG." + a 22-character id + "." + a 43-character secret.
# https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys
SENDGRID_KEY = re.compile(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}")
KEY_REASON = "must look like SG.<22 characters>.<43 characters>, as SendGrid shows it when the key is created"
KEEP = object()             # save_settings: leave the stored key as it is
ERRORS_WINDOW = timedelta(days=7)


def settings_of(shop: Shop) -> dict:
    return {name: getattr(shop, name) for name in FIELDS}


def validate_settings(values: dict) -> list[tuple[str, str]]:
    """(field, reason) for each bad value, checked exactly as ``config import`` checks it."""
    errors: list[tuple[str, str]] = []
    check_shop_fields(values, errors)
    email = values.get("sender_email")
    if email is not None and not any(f == "sender_email" for f, _ in errors) and deliverable_email(email) is None:
        # Stricter than the config file's "has an @": a typo here silently stops every send.
        errors.append(("sender_email", "must be an email address, or null"))
    # In a form an empty sender field is how "null" is typed.
    return [(field, reason.replace(", or null", ", or left empty")) for field, reason in errors]


def check_sendgrid_key(key: str) -> str | None:
    """Why this is not a SendGrid API key, or None. The reason never quotes the key."""
    return None if SENDGRID_KEY.fullmatch(key) else KEY_REASON


def save_settings(session: Session, box: SecretBox, shop: Shop, values: dict, sendgrid_key=KEEP) -> None:
    """Apply validated values; ``sendgrid_key`` is KEEP, None (remove) or a new checked key."""
    for name in FIELDS:
        setattr(shop, name, values[name])
    if sendgrid_key is not KEEP:
        shop.sendgrid_api_key_enc = box.seal(sendgrid_key)
        code = "shop_sendgrid_key_removed" if sendgrid_key is None else "shop_sendgrid_key_set"
        log.info("shop sendgrid key changed", extra={"shop_id": shop.id, "code": code})
    log.info("shop settings saved", extra={"shop_id": shop.id, "code": "shop_settings_saved"})


def key_hint(box: SecretBox, shop: Shop, instance_has_key: bool) -> str:
    """The help line under the key field: never more of the key than its last 4 characters."""
    if shop.sendgrid_api_key_enc is None:
        return "not set — the instance's key is used" if instance_has_key else "not set"
    try:
        key = box.open(shop.sendgrid_api_key_enc)
    except ValueError:
        return "set, but it cannot be decrypted with ENCRYPTION_KEYS: type it again"
    return f"set, ends in …{key[-4:]}"


@dataclass(frozen=True)
class DeadDelivery:
    topic: str
    received_at: datetime
    reason: str


@dataclass(frozen=True)
class ConnectionStatus:
    platform: str
    domain: str
    has_credentials: bool
    uninstalled_at: datetime | None
    last_webhook_at: datetime | None
    last_webhook_topic: str | None
    dead_count: int                     # dead letters received in the last ERRORS_WINDOW
    recent_dead: tuple[DeadDelivery, ...]
    discount_error: str | None
    discount_error_at: datetime | None
    held_steps: int


def connection_status(session: Session, shop: Shop, now: datetime) -> ConnectionStatus:
    """What the merchant checks when reminders stop: never a credential, never a body."""
    last = session.execute(select(Delivery.received_at, Delivery.topic).where(Delivery.shop_id == shop.id)
                           .order_by(Delivery.received_at.desc(), Delivery.id.desc()).limit(1)).first()
    recent = (Delivery.shop_id == shop.id, Delivery.status == "dead", Delivery.received_at >= now - ERRORS_WINDOW)
    dead = session.execute(select(Delivery.topic, Delivery.received_at, Delivery.reason).where(*recent)
                           .order_by(Delivery.received_at.desc(), Delivery.id.desc()).limit(5)).all()
    held = session.scalar(select(func.count()).where(ReminderStep.shop_id == shop.id, ReminderStep.status == "held"))
    return ConnectionStatus(
        platform=shop.platform, domain=shop.domain,
        has_credentials=bool(shop.access_token_enc or shop.consumer_key_enc),
        uninstalled_at=shop.uninstalled_at,
        last_webhook_at=last.received_at if last else None, last_webhook_topic=last.topic if last else None,
        dead_count=session.scalar(select(func.count()).where(*recent)) or 0,
        recent_dead=tuple(DeadDelivery(r.topic, r.received_at, (r.reason or "no reason recorded")[:300])
                          for r in dead),
        discount_error=shop.discount_error, discount_error_at=shop.discount_error_at, held_steps=held or 0)
