"""Retention: delete what is no longer needed after ``RETENTION_DAYS``, once a day, by one
worker of many; and ``delete_carts``, the one FK-safe way to delete carts with their rows.

What goes: raw webhook deliveries and provider events once handled, privacy requests
(exports hold personal data), closed carts with everything hanging off them, recorded
orders, stale contact-ledger rows, and open-order answers older than a day (a cache).
What never goes: opt-outs (they must outlive everything, even the customer's erasure)
and live carts, whatever their age.

Each table is purged in bounded chunks (select ids, delete those ids), so no statement
touches more than ``CHUNK`` rows; ``run_if_due`` commits each chunk on its own, so the
web and the workers never wait behind a long purge.
"""
from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Callable, ContextManager

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bridge.db.engine import unit_of_work
from bridge.db.tables import (Cart, CartItem, ContactLedger, Delivery, Discount, JobRun, Message, MessageAttempt,
                              OpenOrderCheck, Order, OutboxEntry, PrivacyRequest, ProviderEvent, ReminderStep)
from bridge.model import CartState

log = logging.getLogger(__name__)
CHUNK = 1000
JOB = "retention"
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
LIVE = (CartState.OPEN.value, CartState.ABANDONED.value)
OPEN_ORDER_CHECK_LIFE = timedelta(days=1)
_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def delete_carts(session: Session, cart_ids) -> dict[str, int]:
    """Delete carts (a list of ids or a SELECT of them) and their rows, children
    first: explicit statements rather than ON DELETE CASCADE alone, so the counts are
    known and the order holds on any database. Returns rows deleted per table."""
    messages = select(Message.id).where(Message.cart_id.in_(cart_ids))
    plan = ((OutboxEntry, OutboxEntry.message_id.in_(messages)),
            (MessageAttempt, MessageAttempt.message_id.in_(messages)),
            (Message, Message.cart_id.in_(cart_ids)), (Discount, Discount.cart_id.in_(cart_ids)),
            (ReminderStep, ReminderStep.cart_id.in_(cart_ids)), (CartItem, CartItem.cart_id.in_(cart_ids)),
            (Cart, Cart.id.in_(cart_ids)))
    return {model.__tablename__: session.execute(delete(model).where(where).execution_options(
        synchronize_session=False)).rowcount for model, where in plan}


def _rules(now: datetime, days: int) -> dict:
    """Per table: the model and what makes a row old enough to go."""
    cutoff = now - timedelta(days=days)
    return {
        "webhook_deliveries": (Delivery, Delivery.status != "pending", Delivery.received_at < cutoff),
        "provider_events": (ProviderEvent, ProviderEvent.status != "pending", ProviderEvent.received_at < cutoff),
        "privacy_requests": (PrivacyRequest, PrivacyRequest.created_at < cutoff),
        # Converted, recovered, expired, removed, suppressed, untouched by us since the cutoff.
        # Our own clock, not closed_at: that is the platform's order date, which an import
        # or a late webhook can put far in the past (the cart would vanish as it closes).
        "carts": (Cart, Cart.state.not_in(LIVE), Cart.updated_at < cutoff),
        "orders": (Order, Order.received_at < cutoff),
        # A merchant's test sends from the admin page (reminders go with their carts).
        "test_sends": (OutboxEntry, OutboxEntry.message_id.is_(None), OutboxEntry.created_at < cutoff),
        "open_order_checks": (OpenOrderCheck, OpenOrderCheck.checked_at < now - OPEN_ORDER_CHECK_LIFE),
        # Kept while either time still counts (frequency cap, re-entry cooldown).
        "contact_ledger": (ContactLedger,
                           or_(ContactLedger.last_message_at.is_(None), ContactLedger.last_message_at < cutoff),
                           or_(ContactLedger.sequence_started_at.is_(None),
                               ContactLedger.sequence_started_at < cutoff)),
    }


def purge(session: Session, now: datetime, days: int, *, chunk: int = CHUNK) -> dict[str, int]:
    """Everything past retention, in the caller's transaction (bounded statements)."""
    return _purge(lambda: nullcontext(session), now, days, chunk)


def purge_committing(factory: sessionmaker[Session], now: datetime, days: int, *,
                     chunk: int = CHUNK) -> dict[str, int]:
    """The same, each chunk in its own transaction: locks last one chunk, not the purge."""
    return _purge(lambda: unit_of_work(factory), now, days, chunk)


def _purge(transaction: Callable[[], ContextManager[Session]], now: datetime, days: int,
           chunk: int) -> dict[str, int]:
    counts = {}
    for name, (model, *old) in _rules(now, days).items():
        counts[name] = 0
        while True:
            with transaction() as session:
                selected, deleted = _delete_chunk(session, model, old, chunk)
            counts[name] += deleted
            if selected < chunk:
                break
    log.info("retention purge", extra={"code": "retention_purged", "purged": sum(counts.values())})
    return counts


def _delete_chunk(session: Session, model, old: list, chunk: int) -> tuple[int, int]:
    query = select(model.id).where(*old).order_by(model.id).limit(chunk)
    if session.get_bind().dialect.name == "postgresql":
        # A row a transaction holds right now (a cart being reopened) waits for tomorrow.
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return 0, 0
    if model is Cart:
        return len(ids), delete_carts(session, ids)["carts"]
    return len(ids), session.execute(delete(model).where(model.id.in_(ids))
                                     .execution_options(synchronize_session=False)).rowcount


def run_if_due(factory: sessionmaker[Session], now: datetime, days: int,
               every: timedelta = timedelta(hours=24)) -> dict[str, int] | None:
    """Purge when the last run is ``every`` ago; of many workers calling this at once,
    exactly one runs it. None when it was not this caller's turn."""
    with unit_of_work(factory) as session:
        if not _take_turn(session, now, every):
            return None
    # A purge that fails half-way keeps the chunks it committed; the rest waits for the
    # next turn (nothing here is urgent, and retrying at once could fail the same way).
    return purge_committing(factory, now, days)


def _take_turn(session: Session, now: datetime, every: timedelta) -> bool:
    """Compare-and-set on the job's row: the row exists (insert-ignore), then only the
    one UPDATE that still finds it due changes it; a concurrent one waits on the row
    lock (PostgreSQL) or the write lock (SQLite) and then finds it no longer due."""
    insert = _INSERTS[session.get_bind().dialect.name](JobRun.__table__)
    session.execute(insert.values(name=JOB, last_run_at=NEVER).on_conflict_do_nothing(index_elements=["name"]))
    taken = session.execute(update(JobRun).where(JobRun.name == JOB, JobRun.last_run_at <= now - every)
                            .values(last_run_at=now).execution_options(synchronize_session=False))
    return taken.rowcount == 1
