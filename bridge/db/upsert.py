"""INSERT ... ON CONFLICT DO NOTHING for both dialects: the primitive behind idempotency.

A duplicate key is not an error here: it means "already done". Callers then lock and
read the surviving row.
"""
from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def insert_ignore(session: Session, model: type, values: dict[str, Any],
                  conflict_columns: Sequence[str]) -> bool:
    """Insert unless the unique key exists; True when this call inserted the row."""
    insert = _INSERTS[session.get_bind().dialect.name]
    stmt = (insert(model).values(**values).on_conflict_do_nothing(index_elements=list(conflict_columns))
            .returning(model.__table__.c.id))
    # RETURNING, not rowcount: psycopg reports -1 for this statement through SQLAlchemy 2.1.
    return session.execute(stmt).first() is not None
