"""Deleting expired, unused codes from the platforms, so shops do not fill with dead codes.

A code is deleted an hour after it expired (an order placed in its last minute may
still be on its way as a webhook, and redemption is recorded from that webhook). A
code that never reached the platform is simply dropped. Deleting twice is harmless
(the second answer is "already gone"), so two workers cleaning at once do no harm.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.db.engine import unit_of_work
from bridge.db.tables import Discount, Shop
from bridge.services.store_access import ShopKeys, StoreAccess
from connectors.base import CallOutcome, StoreResult

log = logging.getLogger(__name__)
GRACE = timedelta(hours=1)
MAY_EXIST = ("active", "creating", "refused")


@dataclass(frozen=True)
class CleanupJob:
    discount_id: int
    keys: ShopKeys
    code: str
    platform_id: str | None


def clean_expired_codes(sessions: sessionmaker[Session], access: StoreAccess, now: datetime, *,
                        limit: int = 50) -> int:
    """One round: returns how many codes were settled (deleted, found gone, or dropped)."""
    with unit_of_work(sessions) as session:
        jobs, dropped = _due(session, access, now, limit)
    results = [(job, _delete(job, access)) for job in jobs]
    with unit_of_work(sessions) as session:
        settled = _record(session, results, now)
    return settled + dropped


def _due(session: Session, access: StoreAccess, now: datetime, limit: int) -> tuple[list[CleanupJob], int]:
    rows = list(session.scalars(select(Discount).where(Discount.status.in_(MAY_EXIST),
                                                       Discount.expires_at <= now - GRACE)
                                .order_by(Discount.expires_at).limit(limit).with_for_update()))
    shops = {s.id: s for s in session.scalars(select(Shop).where(Shop.id.in_({d.shop_id for d in rows})))}
    jobs, dropped = [], 0
    for discount in rows:
        if discount.status != "active" and not discount.lookup_first and discount.create_calls == 0:
            discount.status, discount.updated_at = "dropped", now      # never reached the platform
            dropped += 1
            continue
        jobs.append(CleanupJob(discount.id, access.keys(shops[discount.shop_id]), discount.code,
                               discount.platform_id))
    return jobs, dropped


def _delete(job: CleanupJob, access: StoreAccess) -> StoreResult:
    platform_id = job.platform_id
    if platform_id is None:                     # an attempt may have created it: find it first
        found = access.call(job.keys, lambda client: client.find_discount(job.code))
        if found.outcome != CallOutcome.DONE:
            return found
        platform_id = found.platform_id
    return access.call(job.keys, lambda client: client.delete_discount(platform_id))


def _record(session: Session, results: list[tuple[CleanupJob, StoreResult]], now: datetime) -> int:
    settled = 0
    for job, result in results:
        discount = session.get(Discount, job.discount_id, with_for_update=True)
        if discount.status not in MAY_EXIST:
            continue                            # redeemed meanwhile (a late order webhook)
        if result.outcome in (CallOutcome.DONE, CallOutcome.ABSENT):
            discount.status = "expired" if discount.status == "active" else "dropped"
            settled += 1
        elif result.outcome == CallOutcome.REFUSED:
            # Not retried every pass: the merchant sees the reason on the code and the shop.
            discount.status, discount.error = "expired", f"could not delete from the platform: {result.error}"
            shop = session.get(Shop, discount.shop_id)
            shop.discount_error, shop.discount_error_at = discount.error, now
            settled += 1
        discount.updated_at = now
        log.info("expired code %s", result.outcome.value, extra={
            "code": f"discount_cleanup_{result.outcome.value}", "discount_id": discount.id})
    return settled
