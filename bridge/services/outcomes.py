"""The two bookkeeping transactions around a batch of sends: prepare, and record outcomes.

Both work set-wise (IN queries, one flush) because a worker sends hundreds a second and
per-message round trips would be most of its time.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from bridge.backoff import backoff_delay
from bridge.channels.base import OutboundMessage, Outcome, SendResult
from bridge.contacts import UnsubscribeLinks
from bridge.db.tables import Cart, Discount, Message, MessageAttempt, ReminderStep, Shop, Template
from bridge.discounts import EXPIRY_STEP_OFFSET
from bridge.model import CartState
from bridge.services.optouts import LIVE, covers, opted_out
from bridge.services.render import render_step
from bridge.templating import TemplateRenderError
from connectors.base import Connector

log = logging.getLogger(__name__)
MAX_SEND_ATTEMPTS = 8


@dataclass(frozen=True)
class PreparedSend:
    step_id: int
    attempt_id: int
    outbound: OutboundMessage


def prepare_batch(session: Session, ids: list[int], token: str, mail_from: str, now: datetime,
                  connectors: Mapping[str, Connector] | None = None,
                  links: UnsubscribeLinks | None = None) -> list[PreparedSend]:
    """Render and record the intent to send, for every step still claimed with ``token``.

    The last look before the provider call: an opt-out, a redaction or an uninstall that
    committed after the claim stops the step here (they also cancel claimed steps, so
    most never get this far)."""
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
    codes = _active_codes(session, steps)
    opted = opted_out(session, [(c.shop_id, h) for c in carts.values() for h in (c.email_hash, c.phone_hash)])
    ready = []
    for step in steps:
        cart, shop = carts[step.cart_id], shops[step.shop_id]
        stop = _stopped(cart, shop, opted)
        if stop:
            step.status, step.reason, step.claim_token, step.updated_at = "skipped", stop, None, now
            continue
        code = codes.get((step.cart_id, step.position % EXPIRY_STEP_OFFSET))
        try:
            rendered = render_step(shop, cart, step.position, templates, code,
                                   (connectors or {}).get(shop.platform), links)
        except TemplateRenderError as exc:
            step.status, step.reason, step.claim_token, step.updated_at = "failed", f"template: {exc}", None, now
            continue
        content = dict(channel=step.channel, to_email=cart.email, language=rendered.language, status="sending",
                       subject=rendered.subject, html=rendered.html, text=rendered.text)
        ready.append((step, cart, shop, content, rendered.unsubscribe_url))
    message_ids = _save_messages(session, [r[:4] for r in ready], messages, now)
    attempt_ids = _insert_returning(session, MessageAttempt, [
        dict(message_id=mid, number=attempts.get(mid, 0) + 1, started_at=now) for mid in message_ids])
    return [PreparedSend(step.id, attempt_id, _outbound(mid, step, cart, shop, content, mail_from, unsubscribe))
            for (step, cart, shop, content, unsubscribe), mid, attempt_id in zip(ready, message_ids, attempt_ids)]


def _stopped(cart: Cart, shop: Shop, opted: set[tuple[int, str]]) -> str | None:
    if covers(opted, cart):
        return "opted out"
    if shop.status != "active":
        return "shop not active"
    if not cart.email or cart.state not in LIVE:
        return "cart " + cart.state if cart.email else "no email address"
    return None


def _active_codes(session: Session, steps: list[ReminderStep]) -> dict[tuple[int, int], Discount]:
    """The created codes these steps carry, by (cart id, sequence step); an expiry reminder
    (position 100 + N) carries step N's code."""
    if not steps:
        return {}
    return {(d.cart_id, d.step): d for d in session.scalars(select(Discount).where(
        Discount.cart_id.in_({s.cart_id for s in steps}), Discount.status == "active"))}


def _save_messages(session: Session, ready: list, existing: dict, now: datetime) -> list[int]:
    """One message per step: a retry reuses (and refreshes) its row, a first attempt inserts one."""
    new_rows = [dict(step_id=step.id, shop_id=shop.id, cart_id=cart.id, created_at=now, **content)
                for step, cart, shop, content in ready if step.id not in existing]
    new_ids = iter(_insert_returning(session, Message, new_rows))
    ids = []
    for step, _cart, _shop, content in ready:
        message = existing.get(step.id)
        if message is None:
            ids.append(next(new_ids))
            continue
        for name, value in content.items():
            setattr(message, name, value)
        ids.append(message.id)
    session.flush()
    return ids


def _insert_returning(session: Session, model: type, rows: list[dict]) -> list[int]:
    """A Core executemany INSERT handing back the ids in row order (no ORM objects to track)."""
    if not rows:
        return []
    table = model.__table__
    return list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows))


def record_batch(session: Session, results: list[tuple[PreparedSend, SendResult, int]], now: datetime) -> None:
    """Outcomes onto attempts, messages and steps: three bulk UPDATEs by primary key."""
    steps = dict(session.execute(select(ReminderStep.id, ReminderStep.attempts)
                                 .where(ReminderStep.id.in_([p.step_id for p, _, _ in results]))).all())
    attempt_rows, message_rows, step_rows = [], [], []
    for prepared, result, duration_ms in results:
        attempt_rows.append(dict(id=prepared.attempt_id, finished_at=now, outcome=result.outcome.value,
                                 status_code=result.status_code, error=result.error, duration_ms=duration_ms))
        step, message = _OUTCOMES[result.outcome](steps[prepared.step_id], result, now)
        step_rows.append(dict(id=prepared.step_id, claim_token=None, claim_expires_at=None, updated_at=now, **step))
        message_rows.append(dict(id=int(prepared.outbound.message_id), **message))
        log.info("step %s", result.outcome.value, extra={
            "step_id": prepared.step_id, "message_id": prepared.outbound.message_id,
            "code": f"send_{result.outcome.value}", "status_code": result.status_code})
    for model, rows in ((MessageAttempt, attempt_rows), (Message, message_rows), (ReminderStep, step_rows)):
        for group in _by_keys(rows):
            session.execute(update(model), group)
    expire_finished(session, {p.outbound.cart_id for p, _, _ in results}, now)


def _by_keys(rows: list[dict]) -> list[list[dict]]:
    """Bulk UPDATE by primary key wants the same columns in every row of one call."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _outbound(message_id: int, step: ReminderStep, cart: Cart, shop: Shop, content: dict,
              mail_from: str, unsubscribe: str | None) -> OutboundMessage:
    # RFC 8058 one-click: mailbox providers POST "List-Unsubscribe=One-Click" to the URL;
    # Gmail and Yahoo require it of bulk senders. https://www.rfc-editor.org/rfc/rfc8058
    headers = {"List-Unsubscribe": f"<{unsubscribe}>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"} if unsubscribe else {}
    return OutboundMessage(
        message_id=str(message_id), shop_id=shop.id, cart_id=cart.id, step=step.position,
        to_email=cart.email, to_name=cart.first_name, from_email=shop.sender_email or mail_from,
        from_name=shop.sender_name or shop.name, subject=content["subject"], html=content["html"],
        text=content["text"], headers=headers)


def _by_id(session: Session, model: type, ids: set[int], *options) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)).options(*options))}


# Each returns (step columns, message columns) for one outcome.
def _on_sent(attempts: int, result: SendResult, now: datetime) -> tuple[dict, dict]:
    return (dict(status="sent", sent_at=now, reason=None),
            dict(status="sent", sent_at=now, provider_message_id=result.provider_message_id))


def _on_retry(attempts: int, result: SendResult, now: datetime) -> tuple[dict, dict]:
    if attempts >= MAX_SEND_ATTEMPTS:
        return _on_failed(attempts, result, now)
    delay = max(result.retry_after or 0.0, backoff_delay(attempts, base=30, cap=3600))
    return (dict(status="pending", due_at=now + timedelta(seconds=delay), reason=f"retrying: {result.error}"),
            dict(status="retrying"))


def _on_failed(attempts: int, result: SendResult, now: datetime) -> tuple[dict, dict]:
    return dict(status="failed", reason=result.error), dict(status="failed")


def _on_unknown(attempts: int, result: SendResult, now: datetime) -> tuple[dict, dict]:
    return (dict(status="unknown", reason=f"provider may have accepted it; not resent ({result.error})"),
            dict(status="unknown"))


_OUTCOMES = {Outcome.SENT: _on_sent, Outcome.RETRY: _on_retry, Outcome.FAILED: _on_failed,
             Outcome.UNKNOWN: _on_unknown}


def expire_finished(session: Session, cart_ids: set[int], now: datetime) -> None:
    """The sequence ran out: abandoned carts with nothing pending or in flight expire."""
    if not cart_ids:
        return
    open_step = exists().where(ReminderStep.cart_id == Cart.id, ReminderStep.status.in_(("pending", "claimed")))
    session.execute(update(Cart).where(Cart.id.in_(cart_ids), Cart.state == CartState.ABANDONED.value, ~open_step)
                    .values(state=CartState.EXPIRED.value, closed_at=now, updated_at=now)
                    .execution_options(synchronize_session=False))
