"""Reconciliation: ask a shop's API what changed and feed it through the inbox.

Webhooks get lost: Shopify does not guarantee delivery and asks apps to run
reconciliation jobs (https://shopify.dev/docs/apps/build/webhooks/best-practices#implement-reconciliation-jobs);
WooCommerce never retries a delivery and disables a webhook after more than 5
consecutive failures (bridge/services/webhook_health.py switches it back on). So every
``SYNC_INTERVAL_MINUTES`` the worker reads each enrolled shop's records changed since its
last sync (the connector's ``sync_kinds``, through ``StoreClient.changes``) and stores each
one in the inbox as a delivery keyed ``sync:<topic>:<id>:<updated_at>``. The worker's inbox
pass then applies it with the same normalizers and the same rules as a webhook: a record
read twice is stored once, and one the webhook already brought changes nothing (stale
updates lose by ``updated_at``, an order is recorded once).

No transaction is open during a platform call: each page is stored in its own short one.
A kind's cursor moves to the moment the sync started only once its last page was read;
reads start 5 minutes before it (clock skew between us and the platform, and records
sharing the cursor's timestamp).
"""
from __future__ import annotations

import hashlib
import json
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop, ShopSync
from bridge.model import Envelope
from bridge.services.inbox import store_delivery
from bridge.services.store_access import ShopKeys, StoreAccess
from bridge.services.sync_schedule import claim_sync_due, enroll, release_sync
from connectors.base import CallOutcome, ChangePage, Connector, SyncItem

log = logging.getLogger(__name__)
OVERLAP = timedelta(minutes=5)
DEFAULT_BACKFILL = timedelta(days=7)     # a kind never read before, with no backfill set
KEY_LIMIT = 255                          # webhook_deliveries.delivery_key
Progress = Callable[[int, "int | None"], None]


@dataclass
class SyncResult:
    shop_id: int
    stored: int = 0          # records new to the inbox
    known: int = 0           # records an earlier sync had stored already
    skipped: int = 0         # records the platform returned that name no cart (ChangePage.skipped)
    pages: int = 0
    error: str | None = None
    # Kinds in which a record changed while this pass was paging: their cursor stays put
    # (page-number paging shifts an unread record onto a page already read; see SyncItem).
    unsettled: set[str] = field(default_factory=set)

    @property
    def read(self) -> int:
        return self.stored + self.known + self.skipped


@dataclass(frozen=True)
class _Plan:
    """What one sync needs, read in one transaction before any platform call."""
    shop_id: int
    platform: str
    shop_key: str            # what the webhook edge puts in the envelope for this shop
    keys: ShopKeys
    starts: dict[str, datetime]


# The envelope's shop key, as the webhook edge sets it: Shopify's X-Shopify-Shop-Domain,
# WooCommerce's shop id from the delivery URL (webhooks/shops.py).
SHOP_KEYS: dict[str, Callable[[Shop], str]] = {"woocommerce": lambda shop: str(shop.id)}


def sync_shop(sessions: sessionmaker[Session], access: StoreAccess, connectors: Mapping[str, Connector],
              shop_id: int, now: datetime, *, since: datetime | None = None,
              progress: Progress | None = None) -> SyncResult:
    """Read what changed in one shop into the inbox. ``since``: read from there (the CLI's
    ``--since``) instead of from the cursors. ``progress(records, total)`` after each page:
    records on that page; total across the kinds started so far, None when unknown."""
    result = SyncResult(shop_id)
    with unit_of_work(sessions) as session:
        plan = _plan(session, access, connectors, shop_id, now, since)
        if isinstance(plan, str):
            result.error = plan
            return result
    totals: dict[str, int | None] = {}
    finished = []
    for kind, start in plan.starts.items():
        if not _sync_kind(sessions, access, plan, kind, start, now, result, _counter(progress, totals, kind)):
            break
        finished.append(kind)
    with unit_of_work(sessions) as session:
        _record(session, plan, finished, result, now, since)
    return result


def sync_due(sessions: sessionmaker[Session], access: StoreAccess, connectors: Mapping[str, Connector],
             now: datetime, interval: timedelta, *, limit: int = 10) -> list[SyncResult]:
    """Sync up to ``limit`` enrolled shops whose time has come; each is due again ``interval``
    after, whether its sync succeeded or not (a failure is retried at the next interval)."""
    results = []
    for shop_id in claim_sync_due(sessions, now, limit):
        crash = None
        try:
            results.append(sync_shop(sessions, access, connectors, shop_id, now))
        except Exception as exc:  # one shop's bug must not stop the others' reconciliation
            crash = f"internal error: {type(exc).__name__}"
            results.append(SyncResult(shop_id, error=crash))
            # The type and the frames, never the message: it could quote a payload value.
            log.error("sync crashed: %s\n%s", type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)),
                      extra={"shop_id": shop_id, "code": "sync_crashed"})
        finally:
            release_sync(sessions, shop_id, now + interval, error=crash)
    return results


def _plan(session: Session, access: StoreAccess, connectors: Mapping[str, Connector], shop_id: int,
          now: datetime, since: datetime | None) -> _Plan | str:
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status != "active" or shop.uninstalled_at is not None:
        return "the shop is not installed"
    if shop.access_token_enc is None and shop.consumer_key_enc is None:
        return "the shop has no API credentials"
    row = session.get(ShopSync, shop_id) or enroll(session, shop_id, now, due_now=False)
    cursors = row.cursors or {}
    starts = {kind: since or row.backfill_since or _after(cursors.get(kind), now)
              for kind in connectors[shop.platform].sync_kinds}
    shop_key = SHOP_KEYS.get(shop.platform, lambda s: s.domain)(shop)
    return _Plan(shop.id, shop.platform, shop_key, access.keys(shop), starts)


def _after(cursor: str | None, now: datetime) -> datetime:
    return datetime.fromisoformat(cursor) - OVERLAP if cursor else now - DEFAULT_BACKFILL


def _sync_kind(sessions: sessionmaker[Session], access: StoreAccess, plan: _Plan, kind: str, start: datetime,
               now: datetime, result: SyncResult, progress: Callable[[ChangePage], None]) -> bool:
    """Every page of one kind into the inbox; False (with ``result.error``) when a call failed."""
    cursor = None
    while True:
        answer = access.call(plan.keys, lambda client, at=cursor: client.changes(kind, start, at))
        if answer.outcome != CallOutcome.DONE or not isinstance(answer.data, ChangePage):
            return _failed(plan, kind, result, answer.outcome, answer.error)
        page = answer.data
        with unit_of_work(sessions) as session:
            new = sum(_store(session, plan, item, now) for item in page.items)
        result.stored, result.known = result.stored + new, result.known + len(page.items) - new
        result.skipped, result.pages = result.skipped + page.skipped, result.pages + 1
        if any(item.updated_at is not None and item.updated_at >= now for item in page.items):
            result.unsettled.add(kind)
        progress(page)
        if page.next_cursor is None:
            return True
        if page.next_cursor == cursor:   # a platform bug must not keep a worker reading forever
            return _failed(plan, kind, result, CallOutcome.UNKNOWN, "the platform returned the same page again")
        cursor = page.next_cursor


def _store(session: Session, plan: _Plan, item: SyncItem, now: datetime) -> bool:
    key = "sync:" + item.key
    if len(key) > KEY_LIMIT:   # the same record always maps to the same (hashed) key
        key = "sync:" + hashlib.sha256(item.key.encode()).hexdigest()
    envelope = Envelope(plan.platform, plan.shop_key, item.topic, key, extra={"source": "sync"})
    return store_delivery(session, plan.shop_id, envelope, json.dumps(item.payload).encode(), now)


def _failed(plan: _Plan, kind: str, result: SyncResult, outcome: CallOutcome, error: str | None) -> bool:
    result.error = f"{kind}: {error or outcome.value}"
    log.warning("sync failed", extra={"shop_id": plan.shop_id, "code": "sync_failed", "kind": kind,
                                      "outcome": outcome.value})
    return False


def _counter(progress: Progress | None, totals: dict, kind: str) -> Callable[[ChangePage], None]:
    def report(page: ChangePage) -> None:
        totals.setdefault(kind, page.total)
        if progress is not None:
            known = None if None in totals.values() else sum(totals.values())
            progress(len(page.items) + page.skipped, known)
    return report


def _record(session: Session, plan: _Plan, finished: list[str], result: SyncResult, now: datetime,
            since: datetime | None) -> None:
    row = session.get(ShopSync, plan.shop_id, with_for_update=True)
    cursors = dict(row.cursors or {})
    for kind in (k for k in finished if k not in result.unsettled):
        previous = datetime.fromisoformat(cursors[kind]) if cursors.get(kind) else None
        # A --since later than the cursor left a gap unread: the cursor stays for the worker.
        if previous is None or since is None or since <= previous:
            cursors[kind] = max(now, previous or now).isoformat()
    row.cursors = cursors    # a new dict: JSON columns are saved when reassigned
    if result.error is None and (since is None or row.backfill_since is None or since <= row.backfill_since):
        row.backfill_since = None
    row.last_sync_at, row.last_sync_error, row.last_sync_count = now, result.error, result.stored
    log.info("shop synced", extra={"shop_id": plan.shop_id, "code": "shop_synced", "count": result.stored,
                                   "pages": result.pages, "failed": result.error is not None})
