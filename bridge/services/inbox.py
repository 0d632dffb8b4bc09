"""The webhook inbox: store verified deliveries at the edge, process them in the worker.

Storing is one short INSERT whose unique key is the delivery's identity, so a
platform's redelivery is acknowledged without being processed twice, and a 200 is
only answered after the row is committed (nothing acknowledged is ever lost).

Processing takes one pending delivery at a time under a row lock (SKIP LOCKED on
PostgreSQL, so many workers share the inbox), and applies it in the same transaction
that marks it processed: a crash leaves it pending, never half-applied.
"""
from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bridge.backoff import backoff_delay
from bridge.db.engine import unit_of_work
from bridge.db.tables import Delivery, Shop
from bridge.db.upsert import insert_ignore
from bridge.model import Envelope, UnprocessableDelivery
from bridge.contacts import ContactKeys
from bridge.services.events import apply_event

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def store_delivery(db: Session | Connection, shop_id: int, envelope: Envelope, raw: bytes, now: datetime,
                   dead_reason: str | None = None) -> bool:
    """Keep a verified delivery; False when this delivery was stored before.

    ``dead_reason`` stores it straight as a dead letter (it cannot even be identified).
    """
    meta = {"shop_key": envelope.shop_key, **envelope.extra,
            "triggered_at": envelope.triggered_at.isoformat() if envelope.triggered_at else None}
    return insert_ignore(db, Delivery, dict(
        shop_id=shop_id, platform=envelope.platform, topic=envelope.topic, delivery_key=envelope.delivery_key,
        body=raw, meta=meta, received_at=now, status="dead" if dead_reason else "pending", reason=dead_reason,
        attempts=0), ("shop_id", "delivery_key"))


def envelope_of(delivery: Delivery) -> Envelope:
    meta = dict(delivery.meta or {})
    triggered = meta.pop("triggered_at", None)
    return Envelope(platform=delivery.platform, shop_key=meta.pop("shop_key", ""), topic=delivery.topic,
                    delivery_key=delivery.delivery_key,
                    triggered_at=datetime.fromisoformat(triggered) if triggered else None, extra=meta)


@dataclass
class InboxReport:
    processed: int = 0
    ignored: int = 0
    dead: int = 0
    errors: int = 0

    @property
    def total(self) -> int:
        return self.processed + self.ignored + self.dead + self.errors


def process_inbox(factory: sessionmaker[Session], connectors: Mapping, now: Callable[[], datetime],
                  keys: ContactKeys, limit: int = 500) -> InboxReport:
    report = InboxReport()
    for _ in range(limit):
        claimed: dict[str, int] = {}
        try:
            with unit_of_work(factory) as session:
                outcome = _process_next(session, connectors, now(), keys, claimed)
        except Exception as exc:  # a bug or an outage must not wedge the inbox: count, back off, go on
            if "id" not in claimed:
                raise
            outcome = _record_failure(factory, claimed["id"], exc, now())
        if outcome is None:
            break
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _process_next(session: Session, connectors: Mapping, now: datetime, keys: ContactKeys,
                  claimed: dict) -> str | None:
    delivery = _claim_next(session, now)
    if delivery is None:
        return None
    claimed["id"] = delivery.id
    delivery.attempts += 1
    try:
        event = connectors[delivery.platform].normalize(envelope_of(delivery), _parse(delivery.body))
    except UnprocessableDelivery as exc:
        return _finish(delivery, "dead", exc.reason, now)
    if event is None:
        return _finish(delivery, "ignored", "topic deliberately ignored", now)
    shop = session.get(Shop, delivery.shop_id)
    delivery.cart_id = apply_event(session, shop, event, now, keys)
    return _finish(delivery, "processed", None, now)


def _claim_next(session: Session, now: datetime) -> Delivery | None:
    query = (select(Delivery).where(Delivery.status == "pending",
                                    or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now))
             .order_by(Delivery.id).limit(1))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def _parse(raw: bytes):
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnprocessableDelivery(f"unparseable body: {exc.__class__.__name__} at position "
                                    f"{getattr(exc, 'pos', getattr(exc, 'start', '?'))}") from None


def _finish(delivery: Delivery, status: str, reason: str | None, now: datetime) -> str:
    delivery.status, delivery.reason, delivery.processed_at, delivery.claimed_until = status, reason, now, None
    log.info("delivery %s", status, extra={"delivery_id": delivery.id, "topic": delivery.topic,
                                           "code": f"delivery_{status}", "reason": reason and reason[:200]})
    return {"processed": "processed", "ignored": "ignored", "dead": "dead"}[status]


def _record_failure(factory: sessionmaker[Session], delivery_id: int, exc: Exception, now: datetime) -> str:
    """The transaction rolled back; note the error and retry later, dead after MAX_ATTEMPTS."""
    with unit_of_work(factory) as session:
        delivery = session.get(Delivery, delivery_id)
        delivery.attempts += 1
        delivery.reason = f"processing error: {exc.__class__.__name__}"
        delivery.claimed_until = now + timedelta(seconds=backoff_delay(delivery.attempts, base=5, cap=600))
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "dead"
        # The type and the frames, never the exception's message: that could quote a
        # value from the payload (engines also hide SQL parameters, see bridge.db.engine).
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("delivery processing failed: %s\n%s", type(exc).__name__, frames,
                  extra={"delivery_id": delivery.id, "code": "delivery_error"})
    return "errors"
