"""Reading a shop's opt-outs for the merchant: search and page them, find one row, and
export them all as CSV. Recording and lifting opt-outs stays in ``bridge.services.optouts``.

Search: an exact email or phone is hashed the way opt-outs are stored, so it finds its
row even after the customer was erased (``display`` is then null); any text also
matches ``display`` case-insensitively as a part.

CSV: streamed, a batch of 1,000 rows at a time, each batch read in its own short session,
so a shop with 100k opt-outs exports in constant memory and never holds a transaction
(on SQLite, the write lock) for as long as a slow download takes.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable, Iterator

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bridge.contacts import ContactKeys
from bridge.db.tables import OptOut
from bridge.services.optouts import ContactRef

PER_PAGE = 100
STATUSES = ("active", "removed", "all")
CSV_COLUMNS = ("contact", "kind", "active", "source", "reason", "created_at", "created_by", "removed_at",
               "removed_by")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_BATCH = 1000
ERASED = "(erased)"   # as `cartbridge optouts list` says it


@dataclass(frozen=True)
class OptOutPage:
    rows: list[OptOut]
    total: int
    page: int
    pages: int


def find_optouts(session: Session, keys: ContactKeys, shop_id: int, *, text: str = "", status: str = "active",
                 page: int = 1, per_page: int = PER_PAGE) -> OptOutPage:
    """One page of the shop's opt-outs, newest first, filtered by search text and status."""
    query = select(OptOut).where(OptOut.shop_id == shop_id)
    if status == "active":
        query = query.where(OptOut.active.is_(True))
    elif status == "removed":
        query = query.where(OptOut.active.is_(False))
    text = text.strip()
    if text:
        query = query.where(_matching(keys, text))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.scalars(query.order_by(OptOut.created_at.desc(), OptOut.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return OptOutPage(list(rows), total, page, pages)


def _matching(keys: ContactKeys, text: str):
    hashes = [h for h in (keys.email_hash(text), keys.phone_hash(text)) if h]
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    clauses = [OptOut.display.ilike(f"%{escaped}%", escape="\\")]
    if hashes:
        clauses.append(OptOut.contact_hash.in_(hashes))
    return or_(*clauses)


def optout_of_shop(session: Session, shop_id: int, optout_id: int) -> OptOut | None:
    """The row, only if it belongs to this shop (an id from another shop is "not found")."""
    row = session.get(OptOut, optout_id)
    return row if row is not None and row.shop_id == shop_id else None


def contact_of(row: OptOut) -> ContactRef:
    """The row's contact as the opt-out service takes it (by hash: the address may be erased)."""
    if row.kind == "phone":
        return ContactRef(phone_hash=row.contact_hash, phone=row.display)
    return ContactRef(email_hash=row.contact_hash, email=row.display)


def defuse(value: str | None) -> str:
    """A cell a spreadsheet shows as text, never evaluates."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def iso_utc(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat()


def csv_lines(sessions: Callable[[], Session], shop_id: int) -> Iterator[str]:
    """The shop's every opt-out (active and removed) as CSV text, a batch of rows per chunk.

    Each batch is read in its own short session (keyset paging on id): a slow download
    must not hold a transaction open, which on SQLite (``BEGIN IMMEDIATE``) would block
    every writer until the last byte left.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    last_id = 0
    while True:
        with sessions() as db:
            batch = db.scalars(select(OptOut).where(OptOut.shop_id == shop_id, OptOut.id > last_id)
                               .order_by(OptOut.id).limit(CSV_BATCH)).all()
        for row in batch:
            writer.writerow((defuse(row.display) or ERASED, row.kind, "yes" if row.active else "no",
                             defuse(row.source), defuse(row.reason), iso_utc(row.created_at),
                             defuse(row.created_by), iso_utc(row.removed_at), defuse(row.removed_by)))
        if not batch:
            return
        last_id = batch[-1].id
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    chunk = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return chunk
