"""Which shops are reconciled and have their webhooks checked, and when: enrollment and claims.

A shop takes part once it has a ``shop_sync`` row, and while it can be reached (active, not
uninstalled, with credentials). Install and connect create the row (``bridge.services.install``);
so does the first ``cartbridge sync SHOP`` of a shop added by hand with ``cartbridge shops
add``. Nothing enrolls a shop behind the operator's back: a hand-added shop may hold keys
for a store that is not ready to be read, and the test suite's shops hold made-up ones.

Claims work like reminder claims (``bridge.services.claims``): compare-and-set inside one
transaction, FOR UPDATE SKIP LOCKED on PostgreSQL (BEGIN IMMEDIATE on SQLite), so any number
of workers share the shops and no shop is read by two of them at once.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop, ShopSync

# Long enough for a large backfill; a worker that died holding a claim frees the shop after it.
SYNC_CLAIM = timedelta(minutes=30)


def reachable():
    """The shops whose API can be called: active, installed or connected, with credentials."""
    return and_(Shop.status == "active", Shop.uninstalled_at.is_(None),
                or_(Shop.access_token_enc.is_not(None), Shop.consumer_key_enc.is_not(None)))


def backfill_start(cursors: dict, floor: datetime) -> datetime | None:
    """Where an install's first sync starts: ``floor`` (now - BACKFILL_DAYS), unless every
    cursor is newer (a reinstall soon after an uninstall simply carries on from them)."""
    moments = [datetime.fromisoformat(value) for value in (cursors or {}).values()]
    return None if moments and min(moments) >= floor else floor


def enroll(session: Session, shop_id: int, now: datetime, *, backfill: timedelta | None = None,
           due_now: bool = True) -> ShopSync:
    """The shop's ``shop_sync`` row, created when missing. ``due_now``: sync and check its
    webhooks at the worker's next pass. ``backfill``: the next sync reads that far back."""
    row = session.get(ShopSync, shop_id, with_for_update=True)
    if row is None:
        row = ShopSync(shop_id=shop_id, cursors={}, webhook_ids={}, next_sync_at=now, next_health_at=now)
        session.add(row)
    if due_now:
        row.next_sync_at = row.next_health_at = now
    if backfill is not None:
        row.backfill_since = backfill_start(row.cursors, now - backfill)
    session.flush()
    return row


def claim_sync_due(sessions: sessionmaker[Session], now: datetime, limit: int) -> list[int]:
    """Claim up to ``limit`` shops whose sync is due; their ids."""
    with unit_of_work(sessions) as session:
        query = (select(ShopSync).join(Shop, Shop.id == ShopSync.shop_id)
                 .where(ShopSync.next_sync_at <= now, _unclaimed(now), reachable())
                 .order_by(ShopSync.next_sync_at).limit(limit))
        rows = list(session.scalars(_skip_locked(session, query)))
        for row in rows:
            row.sync_claimed_until = now + SYNC_CLAIM
        return [row.shop_id for row in rows]


def claim_sync(session: Session, shop_id: int, now: datetime) -> bool:
    """Claim one shop's sync whether due or not (``cartbridge sync``); False while another holds it."""
    claimed = session.execute(update(ShopSync).where(ShopSync.shop_id == shop_id, _unclaimed(now))
                              .values(sync_claimed_until=now + SYNC_CLAIM)
                              .execution_options(synchronize_session=False))
    return claimed.rowcount == 1


def release_sync(sessions: sessionmaker[Session], shop_id: int, next_at: datetime, *,
                 error: str | None = None) -> None:
    """Free the claim and schedule the next sync; ``error`` (a crash) is kept for the merchant."""
    values = dict(sync_claimed_until=None, next_sync_at=next_at)
    if error is not None:
        values["last_sync_error"] = error
    with unit_of_work(sessions) as session:
        session.execute(update(ShopSync).where(ShopSync.shop_id == shop_id).values(**values)
                        .execution_options(synchronize_session=False))


def claim_health_due(sessions: sessionmaker[Session], now: datetime, interval: timedelta, limit: int) -> list[int]:
    """Claim up to ``limit`` shops whose webhook check is due, by moving their next check
    ``interval`` ahead: a worker that dies during a check leaves it for the next interval."""
    with unit_of_work(sessions) as session:
        query = (select(ShopSync).join(Shop, Shop.id == ShopSync.shop_id)
                 .where(ShopSync.next_health_at <= now, Shop.webhooks_managed_by.is_not(None), reachable())
                 .order_by(ShopSync.next_health_at).limit(limit))
        rows = list(session.scalars(_skip_locked(session, query)))
        for row in rows:
            row.next_health_at = now + interval
        return [row.shop_id for row in rows]


def _unclaimed(now: datetime):
    return or_(ShopSync.sync_claimed_until.is_(None), ShopSync.sync_claimed_until <= now)


def _skip_locked(session: Session, query):
    if session.get_bind().dialect.name == "postgresql":
        # Only the shop_sync rows: a token refresh locks the shop row and must not be waited on.
        return query.with_for_update(skip_locked=True, of=ShopSync)
    return query
