""""Does this contact have another order still pending or not yet delivered?", asked of
the shop's platform for claimed steps, right before they are sent.

Three phases per chunk, like discount codes, so no transaction waits on the platform:
``plan_checks`` answers from a short cache (``open_order_checks``, 10 minutes) and lists
the contacts to ask; ``run_check`` asks (worker thread pool); ``record_checks`` caches
the answers and applies them: an open order skips the step (later steps ask again);
a platform that cannot answer puts the step back with backoff — never sent blind —
and after ``MAX_CHECK_ATTEMPTS`` (or a refusal such as a missing ``read_orders`` scope)
holds it for the merchant (``cartbridge shops status`` / ``shops release``).

Shops without API credentials, or with ``open_order_check`` off, are not asked.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.backoff import backoff_delay
from bridge.db.tables import Cart, OpenOrderCheck, ReminderStep, Shop
from bridge.db.upsert import insert_ignore
from bridge.model import CartState
from bridge.services.store_access import ShopKeys, StoreAccess
from connectors.base import CallOutcome, StoreResult

log = logging.getLogger(__name__)
CACHE_TTL = timedelta(minutes=10)
MAX_CHECK_ATTEMPTS = 8
_NOT_CARTS = (CartState.CONVERTED.value, CartState.RECOVERED.value)   # their orders count


@dataclass(frozen=True)
class CheckJob:
    shop_id: int
    contact_hash: str
    keys: ShopKeys
    email: str
    customer_id: str | None
    exclude_ids: tuple[str, ...]
    step_ids: tuple[int, ...]


def plan_checks(session: Session, ids: list[int], token: str, access: StoreAccess, now: datetime) -> list[CheckJob]:
    """Apply fresh cached answers; return one job per contact that must be asked."""
    steps = list(session.scalars(select(ReminderStep).where(
        ReminderStep.id.in_(ids), ReminderStep.claim_token == token, ReminderStep.status == "claimed")))
    carts = {c.id: c for c in session.scalars(select(Cart).where(Cart.id.in_({s.cart_id for s in steps})))}
    shops = {s.id: s for s in session.scalars(select(Shop).where(Shop.id.in_({s.shop_id for s in steps})))}
    steps = [s for s in steps if _asks(shops[s.shop_id]) and carts[s.cart_id].email_hash]
    cached = _fresh_answers(session, {(s.shop_id, carts[s.cart_id].email_hash) for s in steps}, now)
    wanted: dict[tuple[int, str], list[ReminderStep]] = {}
    for step in steps:
        key = (step.shop_id, carts[step.cart_id].email_hash)
        if key not in cached:
            wanted.setdefault(key, []).append(step)
        elif cached[key] is not None:
            _skip(step, cached[key], now)
    return [_job(session, access, shops[shop_id], carts[group[0].cart_id], group)
            for (shop_id, _), group in wanted.items()]


def _asks(shop: Shop) -> bool:
    return shop.open_order_check and bool(shop.access_token_enc or shop.consumer_key_enc)


def _fresh_answers(session: Session, keys: set[tuple[int, str]], now: datetime) -> dict[tuple[int, str], str | None]:
    if not keys:
        return {}
    rows = session.scalars(select(OpenOrderCheck).where(
        OpenOrderCheck.shop_id.in_({s for s, _ in keys}), OpenOrderCheck.contact_hash.in_({h for _, h in keys}),
        OpenOrderCheck.checked_at > now - CACHE_TTL))
    return {(r.shop_id, r.contact_hash): r.open_order for r in rows if (r.shop_id, r.contact_hash) in keys}


def _job(session: Session, access: StoreAccess, shop: Shop, cart: Cart, steps: list[ReminderStep]) -> CheckJob:
    # The contact's own carts are not "another order" (WooCommerce carts are pending orders).
    own = session.scalars(select(Cart.external_id).where(
        Cart.shop_id == shop.id, Cart.email_hash == cart.email_hash, Cart.state.not_in(_NOT_CARTS)))
    return CheckJob(shop.id, cart.email_hash, access.keys(shop), cart.email, cart.customer_id,
                    tuple(sorted(own)), tuple(s.id for s in steps))


def run_check(job: CheckJob, access: StoreAccess) -> tuple[CheckJob, StoreResult]:
    return job, access.call(job.keys, lambda client: client.find_open_order(job.email, job.customer_id,
                                                                            job.exclude_ids))


def record_checks(session: Session, outcomes: list[tuple[CheckJob, StoreResult]], token: str,
                  now: datetime) -> None:
    for job, result in outcomes:
        steps = list(session.scalars(select(ReminderStep).where(
            ReminderStep.id.in_(job.step_ids), ReminderStep.claim_token == token,
            ReminderStep.status == "claimed").with_for_update()))
        if result.outcome in (CallOutcome.DONE, CallOutcome.ABSENT):
            found = (result.platform_id or "an order") if result.outcome == CallOutcome.DONE else None
            _cache(session, job, found, now)
            for step in steps if found else ():
                _skip(step, found, now)
        else:
            for step in steps:
                _wait_or_hold(step, result, now)
        log.info("open-order check %s", result.outcome.value, extra={
            "code": f"open_order_{result.outcome.value}", "shop_id": job.shop_id, "calls": result.calls})


def _cache(session: Session, job: CheckJob, found: str | None, now: datetime) -> None:
    if not insert_ignore(session, OpenOrderCheck, dict(shop_id=job.shop_id, contact_hash=job.contact_hash,
                                                       open_order=found, checked_at=now), ("shop_id", "contact_hash")):
        row = session.scalars(select(OpenOrderCheck).where(OpenOrderCheck.shop_id == job.shop_id,
                                                           OpenOrderCheck.contact_hash == job.contact_hash)).one()
        row.open_order, row.checked_at = found, now


def _skip(step: ReminderStep, order_ref: str, now: datetime) -> None:
    step.status, step.reason = "skipped", f"another order of this customer is still open: {order_ref}"
    step.claim_token, step.claim_expires_at, step.updated_at = None, None, now


def _wait_or_hold(step: ReminderStep, result: StoreResult, now: datetime) -> None:
    """Not answered: never send blind. Try again later; after many tries, or when the
    platform refuses (e.g. no read_orders scope), hold the step for the merchant."""
    step.claim_token, step.claim_expires_at, step.updated_at = None, None, now
    if result.outcome == CallOutcome.REFUSED or step.attempts >= MAX_CHECK_ATTEMPTS:
        step.status, step.reason = "held", f"could not check the customer's other orders: {result.error}"
        return
    delay = max(result.retry_after or 0.0, backoff_delay(step.attempts, base=30, cap=1800))
    step.status, step.due_at = "pending", now + timedelta(seconds=delay)
    step.reason = f"waiting: could not check the customer's other orders ({result.error})"
