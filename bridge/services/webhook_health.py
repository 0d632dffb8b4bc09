"""Webhook health: keep each shop's subscriptions alive, tell the merchant what was mended.

Every ``WEBHOOK_HEALTH_MINUTES`` the worker lists the webhooks of each shop whose
subscriptions cartbridge created (``webhooks_managed_by == "cartbridge"``):
- WooCommerce sets a webhook to "disabled" after more than 5 consecutive failed deliveries
  (``WC_Webhook::failed_delivery`` in woocommerce/includes/class-wc-webhook.php; statuses:
  https://github.com/woocommerce/woocommerce/blob/trunk/docs/building-a-woo-store/webhooks.md)
  and never retries what it lost: a disabled one of ours is switched back on;
- Shopify retries a delivery 8 times over 4 hours, then deletes a subscription made through
  the Admin API (https://shopify.dev/changelog/updates-to-webhook-retry-mechanism): a missing
  one is created again, "fetch all the existing subscriptions and create only the ones that
  you need" (https://shopify.dev/docs/apps/build/webhooks/best-practices#recover-from-a-downtime-event).
Either way the shop's next sync is made due at once, so reconciliation reads what the dead
webhook lost. Subscriptions declared in ``shopify.app.toml`` (``"shopify"``) are app-specific:
Shopify keeps them and they need no re-subscribing, so the API is not called for them.

``disconnect_woocommerce`` removes ours from the store and forgets the store's keys.
"""
from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy.orm import Session, sessionmaker

from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop, ShopSync
from bridge.model import AppUninstalled
from bridge.services.privacy import uninstall
from bridge.services.store_access import StoreAccess
from bridge.services.sync_schedule import claim_health_due, enroll
from bridge.services.webhook_notes import SHOPIFY_MANAGED_NOTE, mended_note, trouble_note
from connectors.base import CallOutcome, Connector, StoreResult, WebhookInfo

log = logging.getLogger(__name__)


@dataclass
class HealthResult:
    shop_id: int
    skipped: str | None = None                          # why no API call was made
    registered: list[str] = field(default_factory=list)     # topics subscribed for the first time
    created: list[str] = field(default_factory=list)        # topics subscribed again (ours had gone)
    enabled: dict[str, str] = field(default_factory=dict)   # topic switched back on -> the status it had
    error: str | None = None

    @property
    def mended(self) -> bool:
        return bool(self.created or self.enabled)


@dataclass
class RemovalResult:
    removed: list[str] = field(default_factory=list)           # topics whose webhook is gone
    failed: dict[str, str] = field(default_factory=dict)       # topic -> why it is still there


def check_webhooks(sessions: sessionmaker[Session], access: StoreAccess, connectors: Mapping[str, Connector],
                   public_url: str, shop_id: int, now: datetime) -> HealthResult:
    """List the shop's webhooks; re-enable disabled ones of ours, recreate missing ones."""
    with unit_of_work(sessions) as session:
        shop = session.get(Shop, shop_id)
        row = session.get(ShopSync, shop_id) or enroll(session, shop_id, now, due_now=False)
        row.health_checked_at = now
        if shop.webhooks_managed_by != "cartbridge":
            if shop.webhooks_managed_by == "shopify":
                _note(row, SHOPIFY_MANAGED_NOTE, now)
            return HealthResult(shop_id, skipped=f"webhooks managed by {shop.webhooks_managed_by or 'nobody'}")
        keys, secret, platform = access.keys(shop), access.box.open(shop.webhook_secret_enc), shop.platform
        known = set(row.webhook_ids or {})
    connector, result = connectors[platform], HealthResult(shop_id)
    address = connector.webhook_address(public_url, shop_id)
    listed = access.call(keys, lambda client: client.list_webhooks())
    if listed.outcome == CallOutcome.DONE:
        ours = [w for w in listed.data or () if w.address == address]   # other apps' webhooks are not ours
        ids, failures = {}, {}
        for topic in sorted(connector.webhook_topics):
            answer = _mend(access, keys, topic, address, secret, [w for w in ours if w.topic == topic],
                           topic in known, result)
            if answer.outcome != CallOutcome.DONE:
                failures[topic] = answer
            elif answer.platform_id:
                ids[topic] = answer.platform_id
    else:
        ids, failures = {}, {"list": listed}
    with unit_of_work(sessions) as session:
        _record(session, shop_id, platform, result, ids, failures, now)
    return result


def health_due(sessions: sessionmaker[Session], access: StoreAccess, connectors: Mapping[str, Connector],
               public_url: str, now: datetime, interval: timedelta, *, limit: int = 20) -> list[HealthResult]:
    """Check up to ``limit`` shops whose check is due (next one ``interval`` later)."""
    results = []
    for shop_id in claim_health_due(sessions, now, interval, limit):
        try:
            results.append(check_webhooks(sessions, access, connectors, public_url, shop_id, now))
        except Exception as exc:  # one shop's bug must not stop the others' checks
            results.append(HealthResult(shop_id, error=f"internal error: {type(exc).__name__}"))
            log.error("webhook check crashed: %s\n%s", type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)),
                      extra={"shop_id": shop_id, "code": "webhook_check_crashed"})
    return results


def remove_webhooks(sessions: sessionmaker[Session], access: StoreAccess, connectors: Mapping[str, Connector],
                    shop_id: int) -> RemovalResult:
    """Delete the subscriptions cartbridge registered (``shop_sync.webhook_ids``); one
    already gone counts as removed."""
    with unit_of_work(sessions) as session:
        shop, row = session.get(Shop, shop_id), session.get(ShopSync, shop_id)
        ids, keys = dict(row.webhook_ids or {}) if row else {}, access.keys(shop)
    result = RemovalResult()
    for topic, platform_id in sorted(ids.items()):
        answer = access.call(keys, lambda client, pid=platform_id: client.delete_webhook(pid))
        if answer.outcome in (CallOutcome.DONE, CallOutcome.ABSENT):
            result.removed.append(topic)
        else:
            result.failed[topic] = answer.error or answer.outcome.value
    with unit_of_work(sessions) as session:
        row = session.get(ShopSync, shop_id, with_for_update=True)
        if row is not None:
            row.webhook_ids = {t: p for t, p in (row.webhook_ids or {}).items() if t not in result.removed}
    return result


def disconnect_woocommerce(sessions: sessionmaker[Session], access: StoreAccess,
                           connectors: Mapping[str, Connector], shop_id: int, now: datetime) -> RemovalResult:
    """Remove our webhooks from the store, then forget its keys and webhook secret and stop
    every waiting reminder, as an uninstall does. Carts and opt-outs stay for a reconnect.
    A webhook that could not be removed keeps delivering: without a secret its deliveries
    are refused (401), and WooCommerce disables it after more than 5 of them."""
    removal = remove_webhooks(sessions, access, connectors, shop_id)
    with unit_of_work(sessions) as session:
        shop = session.get(Shop, shop_id, with_for_update=True)
        uninstall(session, shop, AppUninstalled(occurred_at=now), now, None)
        shop.consumer_key_enc = shop.consumer_secret_enc = None
        shop.webhook_secret_enc = shop.webhook_secret_previous_enc = None
    log.info("store disconnected", extra={"shop_id": shop_id, "code": "store_disconnected",
                                          "count": len(removal.failed)})
    return removal


def _mend(access: StoreAccess, keys, topic: str, address: str, secret: str | None,
          ours: list[WebhookInfo], known: bool, result: HealthResult) -> StoreResult:
    """One topic: nothing to do, switch ours back on, subscribe (``known``: again)."""
    live = next((w for w in ours if w.active), None)
    if live is not None:
        return StoreResult(CallOutcome.DONE, platform_id=live.platform_id, calls=0)
    if ours:
        answer = access.call(keys, lambda client: client.enable_webhook(ours[0].platform_id))
        if answer.outcome == CallOutcome.DONE:
            result.enabled[topic] = ours[0].status
            log.warning("webhook re-enabled", extra={"shop_id": keys.shop_id, "code": "webhook_reenabled",
                                                     "topic": topic, "status": ours[0].status})
            return StoreResult(CallOutcome.DONE, platform_id=ours[0].platform_id)
        return answer
    answer = access.call(keys, lambda client: client.create_webhook(topic, address, secret))
    if answer.outcome == CallOutcome.DONE and known:
        result.created.append(topic)
        log.warning("webhook recreated", extra={"shop_id": keys.shop_id, "code": "webhook_recreated",
                                                "topic": topic})
    elif answer.outcome == CallOutcome.DONE:
        result.registered.append(topic)
        log.info("webhook registered", extra={"shop_id": keys.shop_id, "code": "webhook_registered", "topic": topic})
    return answer


def _record(session: Session, shop_id: int, platform: str, result: HealthResult, ids: dict,
            failures: dict[str, StoreResult], now: datetime) -> None:
    row = session.get(ShopSync, shop_id, with_for_update=True)
    row.webhook_ids = {**(row.webhook_ids or {}), **ids}
    if result.mended:
        row.next_sync_at = now          # read what the dead webhook lost, now
    if failures:
        result.error = "; ".join(f"{what}: {r.error or r.outcome.value}" for what, r in failures.items())
        log.warning("webhook check failed", extra={"shop_id": shop_id, "code": "webhook_check_failed",
                                                   "outcome": next(iter(failures.values())).outcome.value})
    troubles = {what: (r.outcome.value, r.error) for what, r in failures.items()}
    note = " ".join(filter(None, (mended_note(platform, result.enabled, result.created, now),
                                  trouble_note(troubles))))
    if note:
        _note(row, note, now)


def _note(row: ShopSync, note: str, now: datetime) -> None:
    if row.health_note != note:
        row.health_note, row.health_note_at = note, now
