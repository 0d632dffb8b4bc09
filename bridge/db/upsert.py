"""INSERT ... ON CONFLICT DO NOTHING for both dialects: the primitive behind idempotency.

A duplicate key is not an error here: it means "already done". Callers then lock and
read the surviving row. The statement is built once per table and dialect (it sits on
the webhook hot path); each call only binds its row.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy import Connection
from sqlalchemy.orm import Session

_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


@lru_cache(maxsize=64)
def _statement(model: type, dialect: str, conflict_columns: tuple[str, ...]):
    # RETURNING, not rowcount: psycopg reports -1 for this statement through SQLAlchemy 2.1.
    # On the Core table, not the ORM class: the ORM bulk-insert path costs twice the SQL here.
    return (_INSERTS[dialect](model.__table__).on_conflict_do_nothing(index_elements=list(conflict_columns))
            .returning(model.__table__.c.id))


def insert_ignore(db: Session | Connection, model: type, values: dict[str, Any],
                  conflict_columns: Sequence[str]) -> bool:
    """Insert unless the unique key exists; True when this call inserted the row.

    ``db`` is a Session (inside a unit of work) or a bare Connection (the webhook edge,
    where a Session's bookkeeping would be the largest cost of the request).
    """
    dialect = db.get_bind().dialect if isinstance(db, Session) else db.dialect
    stmt = _statement(model, dialect.name, tuple(conflict_columns))
    return db.execute(stmt, values).first() is not None
