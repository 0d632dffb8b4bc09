"""Creating a claimed step's discount code on the platform exactly once.

Three phases per chunk of claimed steps, so no database transaction waits on a
platform call:

1. ``plan_codes`` (one transaction): for each step whose sequence setting offers a
   code and whose cart qualifies, record the intent — a ``discounts`` row with the
   deterministic code (unique per cart+step) — before anything is sent.
2. ``run_code_job`` (no transaction, in the worker's thread pool): look the code up
   first when an earlier attempt may have reached the platform, else create it; a
   "code already taken" answer means an earlier attempt of ours did create it, so
   it is looked up and adopted. The platform's code uniqueness is the backstop.
3. ``record_codes`` (one transaction): active codes let their steps go on to be
   sent; a platform that is busy puts the step back with backoff; a refusal holds
   the step (or, if the shop chose so, sends it without a code) and is recorded on
   the shop for ``cartbridge shops status``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.backoff import backoff_delay
from bridge.db.tables import Cart, Discount, Order, ReminderStep, SequenceStep, Shop
from bridge.db.upsert import insert_ignore
from bridge.discounts import (EXPIRY_STEP_OFFSET, DiscountSpec, build_spec, discount_code, expiry_reminder_due,
                              why_no_code)
from bridge.services.shops import discount_of
from bridge.services.store_access import ShopKeys, StoreAccess
from connectors.base import CallOutcome, StoreResult

log = logging.getLogger(__name__)
MAX_CODE_ATTEMPTS = 8       # then the step is held: the platform has been failing for hours


@dataclass(frozen=True)
class CodeJob:
    discount_id: int
    step_id: int
    keys: ShopKeys
    spec: DiscountSpec
    lookup_first: bool


@dataclass(frozen=True)
class CodeOutcome:
    job: CodeJob
    result: StoreResult
    create_calls: int


def plan_codes(session: Session, ids: list[int], token: str, secret: bytes, access: StoreAccess,
               now: datetime) -> list[CodeJob]:
    """Record the intent for every claimed step that needs a code it does not have yet."""
    steps = list(session.scalars(select(ReminderStep).where(
        ReminderStep.id.in_(ids), ReminderStep.claim_token == token, ReminderStep.status == "claimed",
        ReminderStep.position < EXPIRY_STEP_OFFSET)))
    settings = {(r.shop_id, r.position): discount_of(r) for r in session.scalars(select(SequenceStep).where(
        SequenceStep.shop_id.in_({s.shop_id for s in steps}), SequenceStep.discount_kind != "none"))}
    steps = [s for s in steps if (s.shop_id, s.position) in settings]
    if not steps:
        return []
    carts = {c.id: c for c in session.scalars(select(Cart).where(Cart.id.in_({s.cart_id for s in steps})))}
    shops = {s.id: s for s in session.scalars(select(Shop).where(Shop.id.in_({s.shop_id for s in steps})))}
    jobs = []
    for step in steps:
        cart, shop, setting = carts[step.cart_id], shops[step.shop_id], settings[(step.shop_id, step.position)]
        discount = _discount_row(session, step, cart, setting, secret, now)
        if discount is None or discount.status not in ("creating", "refused"):
            continue        # no code for this cart, or it exists already (a resend after a retry)
        if discount.status == "refused" and shop.send_without_discount:
            discount.status, discount.updated_at = "dropped", now
            continue
        spec = build_spec(setting, code=discount.code, currency=cart.currency, now=discount.starts_at,
                          cart_id=cart.id, step=step.position, email=cart.email, customer_id=cart.customer_id)
        jobs.append(CodeJob(discount.id, step.id, access.keys(shop), spec, discount.lookup_first))
        # Committed before the call: if this worker dies mid-call, the next attempt looks
        # the code up first (record_codes clears it again when the call surely did nothing).
        discount.status, discount.lookup_first, discount.updated_at = "creating", True, now
    return jobs


def _discount_row(session: Session, step: ReminderStep, cart: Cart, setting, secret: bytes,
                  now: datetime) -> Discount | None:
    existing = session.scalars(select(Discount).where(Discount.cart_id == cart.id, Discount.step == step.position)
                               .with_for_update()).first()
    if existing is not None:
        return existing
    if why_no_code(setting, cart.subtotal, _has_previous_order(session, cart)):
        return None
    code = discount_code(secret, cart.shop_id, cart.id, step.position, setting.code_prefix)
    insert_ignore(session, Discount, dict(
        shop_id=cart.shop_id, cart_id=cart.id, step=step.position, code=code, kind=setting.kind.value,
        value=setting.value, currency=cart.currency, starts_at=now,
        expires_at=now + timedelta(hours=setting.valid_hours), status="creating", lookup_first=False,
        create_calls=0, created_at=now, updated_at=now), ("cart_id", "step"))
    return session.scalars(select(Discount).where(Discount.cart_id == cart.id, Discount.step == step.position)
                           .with_for_update().execution_options(populate_existing=True)).one()


def _has_previous_order(session: Session, cart: Cart) -> bool:
    """An order by this customer that we have seen (orders before installation are unknown)."""
    clauses = [c for v, c in ((cart.email, Order.email == cart.email),
                              (cart.customer_id, Order.customer_id == cart.customer_id)) if v]
    if not clauses:
        return False
    return session.scalars(select(Order.id).where(Order.shop_id == cart.shop_id, or_(*clauses)).limit(1)).first() \
        is not None


def run_code_job(job: CodeJob, access: StoreAccess) -> CodeOutcome:
    """Look up (if an earlier call may have landed), then create; adopt a code already taken."""
    calls, creates = 0, 0
    if job.lookup_first:
        found = access.call(job.keys, lambda client: client.find_discount(job.spec.code))
        calls += found.calls
        if found.outcome != CallOutcome.ABSENT:
            return CodeOutcome(job, _with_calls(found, calls), creates)
    created = access.call(job.keys, lambda client: client.create_discount(job.spec))
    calls, creates = calls + created.calls, 1
    if created.outcome == CallOutcome.EXISTS:
        found = access.call(job.keys, lambda client: client.find_discount(job.spec.code))
        calls += found.calls
        created = found if found.outcome != CallOutcome.ABSENT else StoreResult(
            CallOutcome.REFUSED, error=f"the code {job.spec.code} is taken on the platform but cannot be found")
    return CodeOutcome(job, _with_calls(created, calls), creates)


def _with_calls(result: StoreResult, calls: int) -> StoreResult:
    return StoreResult(result.outcome, result.platform_id, result.error, result.retry_after, calls)


def record_codes(session: Session, outcomes: list[CodeOutcome], now: datetime) -> None:
    """Apply each job's outcome to its discount row and step (see the module docstring)."""
    for outcome in outcomes:
        discount = session.get(Discount, outcome.job.discount_id, with_for_update=True)
        step = session.get(ReminderStep, outcome.job.step_id, with_for_update=True)
        shop = session.get(Shop, discount.shop_id)
        discount.create_calls += outcome.create_calls
        discount.updated_at = now
        discount.lookup_first = outcome.job.lookup_first   # the call finished: back to what we knew before it
        _RECORDERS.get(outcome.result.outcome, _refused)(session, discount, step, shop, outcome.result, now)
        log.info("discount code %s", outcome.result.outcome.value, extra={
            "code": f"discount_{outcome.result.outcome.value}", "discount_id": discount.id, "step_id": step.id,
            "shop_id": shop.id, "calls": outcome.result.calls})


def _active(session: Session, discount: Discount, step: ReminderStep, shop: Shop, result: StoreResult,
            now: datetime) -> None:
    discount.status, discount.platform_id, discount.error, discount.lookup_first = "active", result.platform_id, None, False
    shop.discount_error, shop.discount_error_at = None, None
    due = expiry_reminder_due(discount.expires_at, shop.expiry_reminder_hours, now)
    if due is not None:
        insert_ignore(session, ReminderStep, dict(
            cart_id=discount.cart_id, shop_id=discount.shop_id, position=EXPIRY_STEP_OFFSET + discount.step,
            channel=step.channel, due_at=due, status="pending", attempts=0, updated_at=now), ("cart_id", "position"))


def _later(session: Session, discount: Discount, step: ReminderStep, shop: Shop, result: StoreResult,
           now: datetime) -> None:
    """Not created yet; try again after a pause. UNKNOWN: it may exist, so look it up first next time."""
    discount.lookup_first = discount.lookup_first or result.outcome == CallOutcome.UNKNOWN
    discount.error = result.error
    if step.attempts >= MAX_CODE_ATTEMPTS:
        _refused(session, discount, step, shop, result, now)
        return
    delay = max(result.retry_after or 0.0, backoff_delay(step.attempts, base=30, cap=1800))
    step.status, step.due_at, step.claim_token, step.claim_expires_at = "pending", now + timedelta(seconds=delay), None, None
    step.reason, step.updated_at = f"discount code: waiting for the platform ({result.error})", now


def _refused(session: Session, discount: Discount, step: ReminderStep, shop: Shop, result: StoreResult,
             now: datetime) -> None:
    message = result.error or "the platform refused the discount code"
    discount.error = message
    shop.discount_error, shop.discount_error_at = message, now
    if shop.send_without_discount:
        discount.status = "dropped"         # the step goes on, without a code
        return
    discount.status = "refused"
    step.status, step.claim_token, step.claim_expires_at, step.updated_at = "held", None, None, now
    step.reason = f"held: discount code refused by the platform: {message}"


_RECORDERS = {CallOutcome.DONE: _active, CallOutcome.RETRY: _later, CallOutcome.UNKNOWN: _later,
              CallOutcome.REFUSED: _refused}
