"""Email provider events (SendGrid's Event Webhook): stored at the edge, applied by the worker.

Stored as one INSERT ... ON CONFLICT DO NOTHING per batch (unique on ``sg_event_id``: a
redelivered batch changes nothing); applied one row at a time under a row lock (SKIP LOCKED on
PostgreSQL, as the inbox), in the transaction that marks it processed, ignored or dead, through
``HANDLERS``. The message is our ``message_id`` custom arg; the contact is always looked up in
the *message's* shop, never one the payload names.
Events: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
"""
from __future__ import annotations

import json
import logging
import re
import traceback
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Callable, Sequence

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bridge.contacts import ContactKeys, normalize_email
from bridge.db.engine import unit_of_work
from bridge.db.tables import Message, ProviderEvent, ReminderStep
from bridge.model import UnprocessableDelivery
from bridge.services.optouts import ContactRef, opt_out
from bridge.services.privacy import ERASED_ADDRESS

log = logging.getLogger(__name__)
_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}
_EMAIL_LIKE = re.compile(r"[^\s@\"'<>()\[\]]+@[^\s@\"'<>()\[\]]+")
MAX_REASON = 200
MAX_EMAIL = 320   # opt_outs.display
# Drops that say the address itself is bad or suppressed at SendGrid (its bounce, spam report,
# unsubscribe and invalid-email lists), https://docs.sendgrid.com/glossary/drops; other drops
# ("Spam Content", "Invalid SMTPAPI header", ...) are about the message, not the person.
SUPPRESSING_DROPS = frozenset({"bounced address", "invalid", "unsubscribed address", "spam reporting address"})
_FIRST_SEEN = {"delivered": "delivered_at", "open": "opened_at", "click": "clicked_at", "bounce": "bounced_at",
               "spamreport": "complained_at"}
# SendGrid posts events unordered: a late "processed" must not hide "delivered" or "click".
_PROGRESS = {"processed": 0, "deferred": 1, "blocked": 1, "delivered": 2, "bounce": 2, "dropped": 2,
             "open": 3, "click": 4, "spamreport": 5, "unsubscribe": 5, "group_unsubscribe": 5}


def store_provider_events(connection: Connection, rows: Sequence[dict]) -> int:
    """Insert the batch's rows, skipping events stored before; returns how many were new."""
    if not rows:
        return 0
    return len(connection.execute(_insert_ignore(connection.dialect.name), list(rows)).all())


@cache
def _insert_ignore(dialect: str):
    # One executemany: SQLAlchemy's "insertmanyvalues" sends multi-row INSERTs, and RETURNING
    # yields only the rows that were not there yet (rowcount is unreliable here, see upsert.py).
    table = ProviderEvent.__table__
    return (_INSERTS[dialect](table).on_conflict_do_nothing(index_elements=["provider", "event_id"])
            .returning(table.c.id))


@dataclass(frozen=True)
class ProviderEventContext:
    """What a handler gets: the locked message, the event (``at``: its time, else now)."""
    session: Session
    message: Message
    kind: str
    data: dict
    at: datetime
    now: datetime
    keys: ContactKeys


def process_provider_events(factory: sessionmaker[Session], keys: ContactKeys, now: Callable[[], datetime],
                            limit: int = 1000) -> int:
    """Apply up to ``limit`` pending events, oldest first; returns how many were taken."""
    taken = 0
    while taken < limit:
        claimed: dict[str, int] = {}
        try:
            with unit_of_work(factory) as session:
                if not _apply_next(session, keys, now(), claimed):
                    break
        except OperationalError:
            raise  # an outage or a lock conflict: the row stays pending for the next pass
        except Exception as exc:  # a bug must not wedge the queue: park the row with the error's type
            if "id" not in claimed:
                raise
            _mark_failed(factory, claimed["id"], exc, now())
        taken += 1
    return taken


def _apply_next(session: Session, keys: ContactKeys, now: datetime, claimed: dict) -> bool:
    query = select(ProviderEvent).where(ProviderEvent.status == "pending").order_by(ProviderEvent.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalars(query).first()
    if row is None:
        return False
    claimed["id"] = row.id
    status, reason = _outcome(session, row, keys, now)
    row.status, row.reason, row.processed_at = status, reason, now
    log.info("provider event %s", status, extra={"code": f"provider_event_{status}", "message_id": row.message_id,
                                                 "shop_id": row.shop_id, "reason": reason})
    return True


def _outcome(session: Session, row: ProviderEvent, keys: ContactKeys, now: datetime) -> tuple[str, str | None]:
    message = session.get(Message, row.message_id, with_for_update=True) if row.message_id else None
    if message is None:
        return "ignored", "no such message"
    row.shop_id = message.shop_id
    if message.to_email == ERASED_ADDRESS:
        # The customer was erased: a late event must not write their address back (an
        # opt-out's display); the opt-out hash they had is kept anyway.
        row.body = b"{}"
        return "ignored", "the message's recipient was erased"
    handler = HANDLERS.get(row.event)
    if handler is None:
        return "ignored", f"unhandled event type: {row.event}"
    context = ProviderEventContext(session, message, row.event, json.loads(row.body), row.occurred_at or now,
                                   now, keys)
    try:
        return "processed", handler(context)
    except UnprocessableDelivery as exc:  # raised before the handler changed anything
        return "dead", exc.reason


def _mark_failed(factory: sessionmaker[Session], row_id: int, exc: Exception, now: datetime) -> None:
    with unit_of_work(factory) as session:
        row = session.get(ProviderEvent, row_id)
        row.status, row.reason, row.processed_at = "dead", f"processing error: {type(exc).__name__}", now
    # The type and the frames, never the message: it could quote the event (an address).
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("provider event failed: %s\n%s", type(exc).__name__, frames,
              extra={"code": "provider_event_error", "status": "dead"})


# -- handlers: each returns a short note for the row's reason (None: nothing to add) ----------

def _accepted(e: ProviderEventContext) -> str | None:   # processed, delivered
    _record(e, e.kind)
    return _resolve_unknown(e)


def _observed(e: ProviderEventContext) -> None:   # deferred, open, click
    _record(e, e.kind)


def _bounced(e: ProviderEventContext) -> str:
    if e.data.get("type") == "blocked":  # SendGrid: a temporary refusal; the address may be fine
        _record(e, "blocked")
        return "blocked (temporary): no opt-out"
    note = _opt_out(e, "sendgrid_bounce", email_only=True)
    _record(e, e.kind)
    return note


def _dropped(e: ProviderEventContext) -> str:
    suppressed = str(e.data.get("reason") or "").strip().lower() in SUPPRESSING_DROPS
    note = (_opt_out(e, "sendgrid_dropped", email_only=True) if suppressed
            else f"dropped ({_provider_reason(e.data) or 'no reason'}): no opt-out")
    _record(e, e.kind)
    return note


def _complained(e: ProviderEventContext) -> str:   # spamreport, unsubscribe, group_unsubscribe
    note = _opt_out(e, f"sendgrid_{e.kind}")
    _record(e, e.kind)
    return note


HANDLERS: dict[str, Callable[[ProviderEventContext], str | None]] = {
    "processed": _accepted, "delivered": _accepted, "deferred": _observed, "open": _observed, "click": _observed,
    "bounce": _bounced, "dropped": _dropped, "spamreport": _complained, "unsubscribe": _complained,
    "group_unsubscribe": _complained,
}


def _record(e: ProviderEventContext, status: str) -> None:
    """The message's provider status and the first time of this kind (a repeat or a
    redelivery never moves it; an earlier event that arrives late does)."""
    column = _FIRST_SEEN.get(status)
    if column and (getattr(e.message, column) is None or e.at < getattr(e.message, column)):
        setattr(e.message, column, e.at)
    current = e.message.provider_status
    if current is None or _PROGRESS[status] >= _PROGRESS.get(current, 0):
        e.message.provider_status = status


def _resolve_unknown(e: ProviderEventContext) -> str | None:
    """The worker could not tell whether SendGrid took the message; this event says it did."""
    if e.message.status != "unknown":
        return None
    e.message.status, e.message.sent_at = "sent", e.at
    step = e.session.get(ReminderStep, e.message.step_id, with_for_update=True)
    if step is not None and step.status == "unknown":
        step.status, step.sent_at, step.updated_at = "sent", e.at, e.now
        step.reason = "provider confirmed acceptance"
    return "provider confirmed acceptance"


def _opt_out(e: ProviderEventContext, source: str, *, email_only: bool = False) -> str:
    email = normalize_email(e.data.get("email") if isinstance(e.data.get("email"), str) else None)
    if email is None or len(email) > MAX_EMAIL or not email.isprintable():
        raise UnprocessableDelivery(f"{e.kind} event without a usable email")
    stopped = opt_out(e.session, e.message.shop_id, ContactRef.of(e.keys, email=email), source=source,
                      now=e.now, by="sendgrid", reason=_provider_reason(e.data), email_only=email_only)
    return f"opted out ({source}); {stopped} step(s) stopped"


def _provider_reason(data: dict) -> str | None:
    """SendGrid's reason, short and without the addresses a mail server may quote back
    (it outlives the customer's redaction on the opt-out row)."""
    reason = data.get("reason")
    reason = "".join(c for c in reason if c.isprintable()).strip() if isinstance(reason, str) else ""
    return _EMAIL_LIKE.sub("[email]", reason)[:MAX_REASON] or None
