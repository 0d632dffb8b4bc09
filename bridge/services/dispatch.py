"""Sending claimed reminder steps and recording what happened.

Per step: (1) in one transaction, check the claim is still ours, render, create the
message (one per step: a unique key) and an attempt row with no outcome yet; (2) call
the channel; (3) in a second transaction, record the outcome on the attempt, the
message and the step. For the transactional dev outbox, all of it is one transaction.

Outcomes: sent -> done (the cart expires when no step is left); retry -> back to
pending after capped, jittered backoff; failed -> final; unknown -> the provider may
have accepted it, so it is never sent again automatically.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.backoff import backoff_delay
from bridge.channels.base import Channel, OutboundMessage, Outcome, SendResult
from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Message, MessageAttempt, ReminderStep, Shop
from bridge.model import CartState
from bridge.services.claims import claim_due_steps, new_claim_token
from bridge.services.render import render_step

log = logging.getLogger(__name__)
MAX_SEND_ATTEMPTS = 8


@dataclass
class Dispatcher:
    sessions: sessionmaker[Session]
    channel_for: Callable[[Session], Channel]     # the outbox needs the session; SendGrid ignores it
    transactional: bool
    mail_from: str
    now: Callable[[], datetime]
    claim_seconds: int = 300
    counts: dict = field(default_factory=lambda: {o.value: 0 for o in Outcome})

    def dispatch_due(self, limit: int = 100) -> int:
        """Claim a batch of due steps and send them; returns how many were claimed."""
        token = new_claim_token()
        with unit_of_work(self.sessions) as session:
            ids = claim_due_steps(session, self.now(), limit=limit, token=token,
                                  claim_seconds=self.claim_seconds, transactional_channel=self.transactional)
        for step_id in ids:
            self.send_step(step_id, token)
        return len(ids)

    def send_step(self, step_id: int, token: str) -> Outcome | None:
        if self.transactional:
            with unit_of_work(self.sessions) as session:
                prepared = self._prepare(session, step_id, token)
                if prepared is None:
                    return None
                result = self.channel_for(session).send(prepared.outbound)
                self._record(session, prepared, result, 0)
            return self._count(result)
        with unit_of_work(self.sessions) as session:
            prepared = self._prepare(session, step_id, token)
        if prepared is None:
            return None
        started = time.monotonic()
        result = self.channel_for(None).send(prepared.outbound)
        with unit_of_work(self.sessions) as session:
            self._record(session, prepared, result, int((time.monotonic() - started) * 1000))
        return self._count(result)

    def _prepare(self, session: Session, step_id: int, token: str) -> "_Prepared | None":
        step = session.scalars(select(ReminderStep).where(
            ReminderStep.id == step_id, ReminderStep.claim_token == token,
            ReminderStep.status == "claimed").with_for_update()).first()
        if step is None:  # cancelled by a conversion since the claim, or reclaimed after expiry
            return None
        cart, shop = session.get(Cart, step.cart_id), session.get(Shop, step.shop_id)
        rendered = render_step(session, shop, cart, step.position)
        message = session.scalars(select(Message).where(Message.step_id == step.id)).first()
        if message is None:
            message = Message(step_id=step.id, shop_id=shop.id, cart_id=cart.id, created_at=self.now())
            session.add(message)
        message.channel, message.to_email, message.language = step.channel, cart.email, rendered.language
        message.subject, message.html, message.text, message.status = (
            rendered.subject, rendered.html, rendered.text, "sending")
        session.flush()
        number = (session.scalar(select(func.count()).where(MessageAttempt.message_id == message.id)) or 0) + 1
        attempt = MessageAttempt(message_id=message.id, number=number, started_at=self.now())
        session.add(attempt)
        session.flush()
        outbound = OutboundMessage(
            message_id=str(message.id), shop_id=shop.id, cart_id=cart.id, step=step.position,
            to_email=cart.email, to_name=cart.first_name, from_email=shop.sender_email or self.mail_from,
            from_name=shop.sender_name or shop.name, subject=rendered.subject, html=rendered.html,
            text=rendered.text)
        return _Prepared(step.id, token, message.id, attempt.id, outbound)

    def _record(self, session: Session, prepared: "_Prepared", result: SendResult, duration_ms: int) -> None:
        now = self.now()
        attempt = session.get(MessageAttempt, prepared.attempt_id)
        attempt.finished_at, attempt.outcome, attempt.status_code = now, result.outcome.value, result.status_code
        attempt.error, attempt.duration_ms = result.error, duration_ms
        message, step = session.get(Message, prepared.message_id), session.get(ReminderStep, prepared.step_id)
        _OUTCOMES[result.outcome](session, step, message, result, now)
        step.claim_token, step.claim_expires_at, step.updated_at = None, None, now
        log.info("step %s", result.outcome.value, extra={
            "step_id": step.id, "message_id": message.id, "code": f"send_{result.outcome.value}",
            "status_code": result.status_code})

    def _count(self, result: SendResult) -> Outcome:
        self.counts[result.outcome.value] += 1
        return result.outcome


@dataclass(frozen=True)
class _Prepared:
    step_id: int
    token: str
    message_id: int
    attempt_id: int
    outbound: OutboundMessage


def _on_sent(session: Session, step: ReminderStep, message: Message, result: SendResult, now: datetime) -> None:
    step.status, step.sent_at, step.reason = "sent", now, None
    message.status, message.sent_at, message.provider_message_id = "sent", now, result.provider_message_id
    session.flush()
    _expire_if_done(session, step.cart_id, now)


def _on_retry(session: Session, step: ReminderStep, message: Message, result: SendResult, now: datetime) -> None:
    if step.attempts >= MAX_SEND_ATTEMPTS:
        return _on_failed(session, step, message, result, now)
    delay = max(result.retry_after or 0.0, backoff_delay(step.attempts, base=30, cap=3600))
    step.status, step.due_at, step.reason = "pending", now + timedelta(seconds=delay), f"retrying: {result.error}"
    message.status = "retrying"


def _on_failed(session: Session, step: ReminderStep, message: Message, result: SendResult, now: datetime) -> None:
    step.status, step.reason, message.status = "failed", result.error, "failed"
    _expire_if_done(session, step.cart_id, now)


def _on_unknown(session: Session, step: ReminderStep, message: Message, result: SendResult, now: datetime) -> None:
    step.status, message.status = "unknown", "unknown"
    step.reason = f"provider may have accepted it; not resent ({result.error})"


_OUTCOMES = {Outcome.SENT: _on_sent, Outcome.RETRY: _on_retry, Outcome.FAILED: _on_failed,
             Outcome.UNKNOWN: _on_unknown}


def _expire_if_done(session: Session, cart_id: int, now: datetime) -> None:
    """The sequence ran out: nothing pending or in flight is left for this cart."""
    left = session.scalar(select(exists().where(ReminderStep.cart_id == cart_id,
                                                ReminderStep.status.in_(("pending", "claimed")))))
    cart = session.get(Cart, cart_id)
    if not left and cart.state == CartState.ABANDONED.value:
        cart.state, cart.closed_at, cart.updated_at = CartState.EXPIRED.value, now, now
