"""Claiming due reminder steps: compare-and-set, with eligibility re-checked in the claim.

A step is claimed by setting ``status='claimed'`` plus a random ``claim_token`` and an
expiry, inside the transaction that also re-checks the cart: converted, removed, no
email, an order already recorded for it, shop not active. On PostgreSQL the candidate
rows are locked with FOR UPDATE SKIP LOCKED, so any number of workers on any number of
machines take disjoint batches; on SQLite, BEGIN IMMEDIATE makes the claim exclusive.

A claim whose worker died expires. It is then claimed again, unless the dead worker
had already started a provider call (an attempt with no outcome): the provider may
have accepted that message, so the step is marked ``unknown`` rather than resent.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bridge.db.tables import Cart, Message, MessageAttempt, Order, ReminderStep, Shop
from bridge.model import CartState
from bridge.services.carts import close_converted

LIVE_STATES = (CartState.OPEN.value, CartState.ABANDONED.value)


def new_claim_token() -> str:
    return secrets.token_hex(16)


def claim_due_steps(session: Session, now: datetime, *, limit: int, token: str, claim_seconds: int,
                    transactional_channel: bool) -> list[int]:
    """Claim up to ``limit`` due steps; returns the ids claimed with ``token``."""
    expires = now + timedelta(seconds=claim_seconds)
    claimed: list[int] = []
    for step in _candidates(session, now, limit):
        attempt = _in_flight(session, step.id) if step.status == "claimed" and not transactional_channel else None
        if attempt is not None:
            _settle_in_flight(session, step, attempt, now)
            continue
        reason = _ineligible(session, step, now)
        if reason:
            _settle(step, "skipped" if reason != "converted" else "cancelled", reason, now)
            continue
        step.status, step.claim_token, step.claim_expires_at = "claimed", token, expires
        step.attempts, step.updated_at = step.attempts + 1, now
        claimed.append(step.id)
    return claimed


def _candidates(session: Session, now: datetime, limit: int) -> list[ReminderStep]:
    due = or_(and_(ReminderStep.status == "pending", ReminderStep.due_at <= now),
              and_(ReminderStep.status == "claimed", ReminderStep.claim_expires_at <= now))
    query = select(ReminderStep).where(due).order_by(ReminderStep.due_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _ineligible(session: Session, step: ReminderStep, now: datetime) -> str | None:
    """Why this step must not be sent now, or None. Runs inside the claiming transaction."""
    cart = session.get(Cart, step.cart_id, with_for_update=session.get_bind().dialect.name == "postgresql")
    if cart.state not in LIVE_STATES:
        return "cart " + cart.state
    if not cart.email:
        return "no email address"
    if session.get(Shop, step.shop_id).status != "active":
        return "shop not active"
    order = _order_recorded(session, cart)
    if order is not None:  # the order raced the checkout in a concurrent transaction
        close_converted(session, cart, order, now)
        return "converted"
    return None


def _order_recorded(session: Session, cart: Cart) -> Order | None:
    """The last line of defence: an order for this cart that arrived in a concurrent transaction."""
    # shop_id sits inside every branch so SQLite can use one index per branch.
    shop = Order.shop_id == cart.shop_id
    match = [and_(shop, Order.checkout_ref == cart.external_id),
             and_(shop, Order.email == cart.email, Order.placed_at >= cart.platform_updated_at)]
    if cart.cart_token:
        match.append(and_(shop, Order.cart_token == cart.cart_token))
    return session.scalars(select(Order).where(or_(*match)).limit(1)).first()


def _in_flight(session: Session, step_id: int) -> MessageAttempt | None:
    """The attempt a dead worker started and never finished, if any."""
    return session.scalars(select(MessageAttempt).join(Message, MessageAttempt.message_id == Message.id)
                           .where(Message.step_id == step_id, MessageAttempt.outcome.is_(None))).first()


def _settle_in_flight(session: Session, step: ReminderStep, attempt: MessageAttempt, now: datetime) -> None:
    reason = "worker stopped during the provider call; not resent"
    attempt.outcome, attempt.finished_at, attempt.error = "unknown", now, reason
    session.get(Message, attempt.message_id).status = "unknown"
    _settle(step, "unknown", reason, now)


def _settle(step: ReminderStep, status: str, reason: str, now: datetime) -> None:
    step.status, step.reason, step.claim_token, step.claim_expires_at, step.updated_at = (
        status, reason, None, None, now)
