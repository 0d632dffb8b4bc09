"""Claiming due reminder steps: compare-and-set, with eligibility re-checked in the claim.

A step is claimed by setting ``status='claimed'`` plus a random ``claim_token`` and an
expiry, inside the transaction that also re-checks the cart: converted, removed, no
email, an order already recorded for it, shop not active. On PostgreSQL the candidate
rows are locked with FOR UPDATE SKIP LOCKED, so any number of workers on any number of
machines take disjoint batches; on SQLite, BEGIN IMMEDIATE makes the claim exclusive.
The checks are made for the whole batch with a handful of IN queries; the sending
manners (opt-out, consent, cooldown, quiet hours, frequency cap) are in ``send_checks``.

A claim whose worker died expires. It is then claimed again, unless the dead worker
had already started a provider call (an attempt with no outcome): the provider may
have accepted that message, so the step is marked ``unknown`` rather than resent.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bridge.contacts import ContactKeys
from bridge.db.tables import Cart, Discount, Message, MessageAttempt, Order, ReminderStep, Shop
from bridge.discounts import EXPIRY_STEP_OFFSET
from bridge.model import CartState
from bridge.services.carts import close_converted, match_window, order_for, orders_naming
from bridge.services.outcomes import expire_finished
from bridge.services.send_checks import BatchChecks, Verdict

LIVE_STATES = (CartState.OPEN.value, CartState.ABANDONED.value)


def new_claim_token() -> str:
    return secrets.token_hex(16)


def claim_due_steps(session: Session, now: datetime, *, limit: int, token: str, claim_seconds: int,
                    transactional_channel: bool, keys: ContactKeys) -> list[int]:
    """Claim up to ``limit`` due steps; returns the ids claimed with ``token``."""
    steps = _candidates(session, now, limit)
    if not steps:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    cart_query = select(Cart).where(Cart.id.in_({s.cart_id for s in steps}))
    carts = {c.id: c for c in session.scalars(cart_query.with_for_update() if postgres else cart_query)}
    shops = {s.id: s for s in session.scalars(select(Shop).where(Shop.id.in_({s.shop_id for s in steps})))}
    # The last line of defence: an order for the cart that arrived in a concurrent transaction.
    orders = orders_naming(session, list(carts.values()))
    in_flight = {} if transactional_channel else _in_flight(session, [s.id for s in steps if s.status == "claimed"])
    codes = _codes_to_expire(session, [s for s in steps if s.position >= EXPIRY_STEP_OFFSET])
    checks = BatchChecks(session, carts, keys, now)
    expires, claimed, settled = now + timedelta(seconds=claim_seconds), [], set()
    for step in steps:
        if step.id in in_flight:
            _settle_in_flight(session, step, in_flight[step.id], now)
            continue
        cart, shop = carts[step.cart_id], shops[step.shop_id]
        reason = _ineligible(session, cart, shop, orders, now)
        if reason is None and step.position >= EXPIRY_STEP_OFFSET:
            reason = _code_unusable(codes.get((step.cart_id, step.position - EXPIRY_STEP_OFFSET)), now)
        verdict = Verdict("skip", reason) if reason else checks.verdict(step, cart, shop)
        if verdict.action != "go":
            _apply_verdict(step, cart, verdict, now)
            settled.add(cart.id)
            continue
        checks.reserve(step, cart)
        step.status, step.claim_token, step.claim_expires_at = "claimed", token, expires
        step.attempts, step.updated_at = step.attempts + 1, now
        claimed.append(step.id)
    expire_finished(session, settled, now)
    return claimed


def _apply_verdict(step: ReminderStep, cart: Cart, verdict: Verdict, now: datetime) -> None:
    """Skip (cancelled when the cart converted) or wait: back to pending, due later, with why."""
    if verdict.action == "wait":
        _settle(step, "pending", verdict.reason, now)
        step.due_at = verdict.until
        return
    _settle(step, "cancelled" if verdict.reason == "converted" else "skipped", verdict.reason, now)
    if verdict.suppress and cart.state in LIVE_STATES:
        cart.state, cart.updated_at = CartState.SUPPRESSED.value, now


def _candidates(session: Session, now: datetime, limit: int) -> list[ReminderStep]:
    due = or_(and_(ReminderStep.status == "pending", ReminderStep.due_at <= now),
              and_(ReminderStep.status == "claimed", ReminderStep.claim_expires_at <= now))
    query = select(ReminderStep).where(due).order_by(ReminderStep.due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _ineligible(session: Session, cart: Cart, shop: Shop, orders: list[Order], now: datetime) -> str | None:
    """Why this cart's step must not be sent now, or None."""
    if cart.state not in LIVE_STATES:
        return "cart " + cart.state
    if not cart.email:
        return "no email address"
    if shop.status != "active":
        return "shop not active"
    order = order_for(cart, orders, match_window(shop))
    if order is not None:  # the order raced the checkout in a concurrent transaction
        close_converted(session, cart, order, now)
        return "converted"
    return None


def _codes_to_expire(session: Session, steps: list[ReminderStep]) -> dict[tuple[int, int], Discount]:
    """The codes that "expires soon" reminders are about, by (cart id, sequence step)."""
    if not steps:
        return {}
    return {(d.cart_id, d.step): d for d in session.scalars(select(Discount).where(
        Discount.cart_id.in_({s.cart_id for s in steps})))}


def _code_unusable(code: Discount | None, now: datetime) -> str | None:
    """An "expires soon" reminder goes only while the customer's code is still unused and valid."""
    if code is not None and code.status == "redeemed":
        return "discount code already used"
    if code is None or code.status != "active":
        return "no discount code to remind of"
    if code.expires_at <= now:
        return "discount code already expired"
    return None


def _in_flight(session: Session, step_ids: list[int]) -> dict[int, MessageAttempt]:
    """Attempts that dead workers started and never finished, by step id."""
    if not step_ids:
        return {}
    rows = session.execute(select(Message.step_id, MessageAttempt).join(Message, MessageAttempt.message_id == Message.id)
                           .where(Message.step_id.in_(step_ids), MessageAttempt.outcome.is_(None)))
    return {step_id: attempt for step_id, attempt in rows}


def _settle_in_flight(session: Session, step: ReminderStep, attempt: MessageAttempt, now: datetime) -> None:
    reason = "worker stopped during the provider call; not resent"
    attempt.outcome, attempt.finished_at, attempt.error = "unknown", now, reason
    session.get(Message, attempt.message_id).status = "unknown"
    _settle(step, "unknown", reason, now)


def _settle(step: ReminderStep, status: str, reason: str, now: datetime) -> None:
    step.status, step.reason, step.claim_token, step.claim_expires_at, step.updated_at = (
        status, reason, None, None, now)
