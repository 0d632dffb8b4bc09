"""The two bookkeeping transactions around a batch of sends: prepare, and record outcomes.

Both work set-wise (IN queries, one flush) because a worker sends hundreds a second and
per-message round trips would be most of its time.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from bridge.backoff import backoff_delay
from bridge.channels.base import OutboundMessage, Outcome, SendResult
from bridge.db.tables import Cart, Message, MessageAttempt, ReminderStep, Shop, Template
from bridge.model import CartState
from bridge.services.render import render_step
from bridge.templating import TemplateRenderError

log = logging.getLogger(__name__)
MAX_SEND_ATTEMPTS = 8


@dataclass(frozen=True)
class PreparedSend:
    step_id: int
    attempt_id: int
    outbound: OutboundMessage


def prepare_batch(session: Session, ids: list[int], token: str, mail_from: str, now: datetime) -> list[PreparedSend]:
    """Render and record the intent to send, for every step still claimed with ``token``."""
    steps = list(session.scalars(select(ReminderStep).where(
        ReminderStep.id.in_(ids), ReminderStep.claim_token == token, ReminderStep.status == "claimed")
        .order_by(ReminderStep.id).with_for_update()))  # a conversion cancelling now waits for us
    carts = _by_id(session, Cart, {s.cart_id for s in steps}, selectinload(Cart.items))
    shops = _by_id(session, Shop, {s.shop_id for s in steps})
    templates = {(t.shop_id, t.step, t.language): t for t in session.scalars(
        select(Template).where(Template.shop_id.in_(shops)))}
    messages = {m.step_id: m for m in session.scalars(select(Message).where(Message.step_id.in_(ids)))}
    attempts = dict(session.execute(select(MessageAttempt.message_id, func.count()).where(
        MessageAttempt.message_id.in_([m.id for m in messages.values()])).group_by(MessageAttempt.message_id)).all())
    ready = []
    for step in steps:
        cart, shop = carts[step.cart_id], shops[step.shop_id]
        try:
            rendered = render_step(shop, cart, step.position, templates)
        except TemplateRenderError as exc:
            step.status, step.reason, step.claim_token, step.updated_at = "failed", f"template: {exc}", None, now
            continue
        message = messages.get(step.id) or Message(step_id=step.id, shop_id=shop.id, cart_id=cart.id, created_at=now)
        message.channel, message.to_email, message.language, message.status = (
            step.channel, cart.email, rendered.language, "sending")
        message.subject, message.html, message.text = rendered.subject, rendered.html, rendered.text
        session.add(message)
        ready.append((step, cart, shop, message))
    session.flush()
    prepared = []
    for step, cart, shop, message in ready:
        attempt = MessageAttempt(message_id=message.id, number=attempts.get(message.id, 0) + 1, started_at=now)
        session.add(attempt)
        prepared.append((step, attempt, _outbound(message, step, cart, shop, mail_from)))
    session.flush()
    return [PreparedSend(step.id, attempt.id, outbound) for step, attempt, outbound in prepared]


def record_batch(session: Session, results: list[tuple[PreparedSend, SendResult, int]], now: datetime) -> None:
    attempts = _by_id(session, MessageAttempt, {p.attempt_id for p, _, _ in results})
    steps = _by_id(session, ReminderStep, {p.step_id for p, _, _ in results})
    messages = _by_id(session, Message, {a.message_id for a in attempts.values()})
    for prepared, result, duration_ms in results:
        attempt, step = attempts[prepared.attempt_id], steps[prepared.step_id]
        attempt.finished_at, attempt.outcome, attempt.status_code = now, result.outcome.value, result.status_code
        attempt.error, attempt.duration_ms = result.error, duration_ms
        _OUTCOMES[result.outcome](step, messages[attempt.message_id], result, now)
        step.claim_token, step.claim_expires_at, step.updated_at = None, None, now
        log.info("step %s", result.outcome.value, extra={
            "step_id": step.id, "message_id": attempt.message_id, "code": f"send_{result.outcome.value}",
            "status_code": result.status_code})
    session.flush()
    _expire_finished(session, {s.cart_id for s in steps.values()}, now)


def _outbound(message: Message, step: ReminderStep, cart: Cart, shop: Shop, mail_from: str) -> OutboundMessage:
    return OutboundMessage(
        message_id=str(message.id), shop_id=shop.id, cart_id=cart.id, step=step.position,
        to_email=cart.email, to_name=cart.first_name, from_email=shop.sender_email or mail_from,
        from_name=shop.sender_name or shop.name, subject=message.subject, html=message.html, text=message.text)


def _by_id(session: Session, model: type, ids: set[int], *options) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)).options(*options))}


def _on_sent(step: ReminderStep, message: Message, result: SendResult, now: datetime) -> None:
    step.status, step.sent_at, step.reason = "sent", now, None
    message.status, message.sent_at, message.provider_message_id = "sent", now, result.provider_message_id


def _on_retry(step: ReminderStep, message: Message, result: SendResult, now: datetime) -> None:
    if step.attempts >= MAX_SEND_ATTEMPTS:
        return _on_failed(step, message, result, now)
    delay = max(result.retry_after or 0.0, backoff_delay(step.attempts, base=30, cap=3600))
    step.status, step.due_at, step.reason = "pending", now + timedelta(seconds=delay), f"retrying: {result.error}"
    message.status = "retrying"


def _on_failed(step: ReminderStep, message: Message, result: SendResult, now: datetime) -> None:
    step.status, step.reason, message.status = "failed", result.error, "failed"


def _on_unknown(step: ReminderStep, message: Message, result: SendResult, now: datetime) -> None:
    step.status, message.status = "unknown", "unknown"
    step.reason = f"provider may have accepted it; not resent ({result.error})"


_OUTCOMES = {Outcome.SENT: _on_sent, Outcome.RETRY: _on_retry, Outcome.FAILED: _on_failed,
             Outcome.UNKNOWN: _on_unknown}


def _expire_finished(session: Session, cart_ids: set[int], now: datetime) -> None:
    """The sequence ran out: abandoned carts with nothing pending or in flight expire."""
    open_step = exists().where(ReminderStep.cart_id == Cart.id, ReminderStep.status.in_(("pending", "claimed")))
    session.execute(update(Cart).where(Cart.id.in_(cart_ids), Cart.state == CartState.ABANDONED.value, ~open_step)
                    .values(state=CartState.EXPIRED.value, closed_at=now, updated_at=now)
                    .execution_options(synchronize_session=False))
