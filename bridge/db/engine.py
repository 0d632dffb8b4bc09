"""Engine and session set-up for SQLite (embedded default) and PostgreSQL.

SQLite: WAL so the web process can insert while the worker reads; a busy timeout so
writers queue instead of failing; and ``BEGIN IMMEDIATE`` for every transaction, so
a transaction that reads then writes (a claim) takes the write lock up front rather
than failing with SQLITE_BUSY when it tries to upgrade.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """``hide_parameters``: SQL errors must not carry emails or bodies into logs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, hide_parameters=True,
                               connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    if pool_size == 0:
        return create_engine(url, poolclass=NullPool, hide_parameters=True)
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         hide_parameters=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                       "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session
