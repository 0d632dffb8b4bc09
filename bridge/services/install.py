"""Installing a Shopify shop and connecting a WooCommerce store: the shop row, its
credentials (encrypted), and its place in reconciliation and webhook health.

The admin's install and connect routes call these once the platform has handed over the
credentials (Shopify's token exchange or authorization-code grant; WooCommerce's key
callback, https://woocommerce.com/document/woocommerce-rest-api/ "Auth endpoint"). They
make no platform calls: the worker's next pass registers the webhooks (webhook health is
due at once) and reads the last ``BACKFILL_DAYS`` (the first sync is due at once too).

A reinstall reuses the shop's row, so its carts, opt-outs, sequence and templates are
still there; the unique (platform, domain) key makes two installs racing for one shop
end with one row. ``start_request``/``take_request`` keep the one-time values behind an
install: Shopify's OAuth ``state``, WooCommerce's ``user_id``.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.crypto import SecretBox
from bridge.db.tables import InstallRequest, SequenceStep, Shop
from bridge.rules import DEFAULT_SEQUENCE
from bridge.services.shops import create_shop, save_sequence
from bridge.services.store_access import store_tokens
from bridge.services.sync_schedule import enroll
from bridge.services.webhook_health import disconnect_woocommerce  # noqa: F401  (the other half of connecting)
from connectors.base import TokenSet

DEFAULT_BACKFILL_DAYS = 7          # settings.backfill_days (BACKFILL_DAYS) is what callers pass
REQUEST_LIFE = timedelta(hours=1)


def install_shopify(session: Session, box: SecretBox, *, domain: str, tokens: TokenSet, scopes: str | None,
                    now: datetime, managed_by: str | None, backfill_days: int = DEFAULT_BACKFILL_DAYS) -> Shop:
    """Create or reinstall the shop and keep its tokens. Called again for a shop that is
    installed already (a new token exchange), it only stores the new tokens."""
    shop, fresh = _shop_for(session, box, "shopify", domain, domain.split(".")[0], now)
    store_tokens(shop, box, tokens)
    shop.scopes, shop.webhooks_managed_by = scopes, managed_by
    _settle(session, shop, fresh, now, backfill_days)
    return shop


def connect_woocommerce(session: Session, box: SecretBox, *, url: str, consumer_key: str, consumer_secret: str,
                        now: datetime, backfill_days: int = DEFAULT_BACKFILL_DAYS) -> Shop:
    """Create or reconnect the store with the keys its owner approved; our webhooks follow."""
    url = url.strip().rstrip("/")
    shop, fresh = _shop_for(session, box, "woocommerce", url, url.split("//", 1)[-1], now)
    shop.consumer_key_enc, shop.consumer_secret_enc = box.seal(consumer_key), box.seal(consumer_secret)
    if shop.webhook_secret_enc is None:
        # Kept on a reconnect: deliveries already signed with it stay valid.
        shop.webhook_secret_enc = box.seal(secrets.token_urlsafe(32))
    shop.webhooks_managed_by = "cartbridge"
    _settle(session, shop, fresh, now, backfill_days)
    enroll(session, shop.id, now, due_now=True)   # new keys: check the webhooks and sync at once
    return shop


def start_request(session: Session, *, platform: str, domain: str, user_id: int | None, now: datetime) -> str:
    """A fresh one-time value (OAuth ``state`` / WooCommerce ``user_id``), valid for an hour."""
    nonce = secrets.token_urlsafe(32)
    session.add(InstallRequest(platform=platform, nonce=nonce, domain=domain, user_id=user_id, created_at=now,
                               expires_at=now + REQUEST_LIFE))
    session.flush()
    return nonce


def take_request(session: Session, *, platform: str, nonce: str, now: datetime) -> InstallRequest | None:
    """The request behind ``nonce``, marked used; None when unknown, used before or expired.
    Compare-and-set: of two callbacks racing with one value, one gets it."""
    if not nonce or len(nonce) > 64:
        return None
    taken = session.execute(update(InstallRequest).where(
        InstallRequest.platform == platform, InstallRequest.nonce == nonce, InstallRequest.used_at.is_(None),
        InstallRequest.expires_at > now).values(used_at=now).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        return None
    return session.scalars(select(InstallRequest).where(InstallRequest.nonce == nonce)
                           .execution_options(populate_existing=True)).one()


def _shop_for(session: Session, box: SecretBox, platform: str, domain: str, name: str,
              now: datetime) -> tuple[Shop, bool]:
    """The shop's row, locked, and whether this is an install (not a repeated token exchange)."""
    shop = _locked(session, platform, domain)
    if shop is None:
        try:
            with session.begin_nested():   # a concurrent first install of the same shop wins the row
                return create_shop(session, box, platform=platform, domain=domain, name=name, now=now), True
        except IntegrityError:
            shop = _locked(session, platform, domain)
    fresh = shop.installed_at is None or shop.uninstalled_at is not None or shop.status != "active"
    return shop, fresh


def _locked(session: Session, platform: str, domain: str) -> Shop | None:
    return session.scalars(select(Shop).where(Shop.platform == platform, Shop.domain == domain)
                           .with_for_update().execution_options(populate_existing=True)).first()


def _settle(session: Session, shop: Shop, fresh: bool, now: datetime, backfill_days: int) -> None:
    """An install (first or again): active, installed now, synced now from the backfill."""
    if not fresh:
        enroll(session, shop.id, now, due_now=False)
        return
    shop.status, shop.installed_at, shop.uninstalled_at = "active", now, None
    if not session.scalar(select(exists().where(SequenceStep.shop_id == shop.id))):
        save_sequence(session, shop, DEFAULT_SEQUENCE)   # a redacted shop lost its sequence
    enroll(session, shop.id, now, backfill=timedelta(days=backfill_days))
