"""The migrations and the models agree, on an empty SQLite file and an empty PostgreSQL database."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, inspect, select, text

from bridge.db.engine import make_engine
from bridge.db.migrate import alembic_config, current, upgrade
from bridge.db.tables import Base, Shop
from tests.conftest import BACKENDS, PG_SERVER


@pytest.fixture(params=BACKENDS)
def empty_engine(request, tmp_path):
    """An engine on a database nothing has touched yet (not the shared, already migrated test one)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    name = f"cartbridge_migrations_{secrets.token_hex(4)}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_SERVER.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def head_revision(engine) -> str:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def table_names(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_an_empty_database_upgraded_to_head_matches_the_models(empty_engine):
    # given a database with no tables at all
    assert table_names(empty_engine) == set()
    # when every migration is applied
    upgrade(empty_engine)
    # then the schema it built is exactly what the models describe (tables, columns, types,
    # nullability, indexes, unique constraints, foreign keys)
    assert differences(empty_engine) == []
    assert table_names(empty_engine) == set(Base.metadata.tables) | {"alembic_version"}


def test_after_the_upgrade_the_database_is_at_the_head_revision(empty_engine):
    # given an empty database, which has no revision yet
    assert current(empty_engine) is None
    # when it is upgraded
    upgrade(empty_engine)
    # then it records the newest revision the code knows
    assert current(empty_engine) == head_revision(empty_engine)


def test_upgrading_twice_is_a_no_op_that_keeps_the_data(empty_engine):
    # given an upgraded database holding a shop
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(insert(Shop).values(platform="shopify", domain="kept.myshopify.com", name="Kept",
                                         status="active", language="en", timezone="UTC",
                                         abandon_after_minutes=60, order_match_window_minutes=43200,
                                         created_at=datetime(2026, 11, 23, tzinfo=UTC)))
    # when the upgrade runs again (every deploy does)
    upgrade(empty_engine)
    # then the revision, the schema and the data are unchanged
    assert current(empty_engine) == head_revision(empty_engine)
    assert differences(empty_engine) == []
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert conn.execute(select(Shop.domain)).scalars().all() == ["kept.myshopify.com"]


def test_large_postgresql_columns_use_lz4_compression(empty_engine):
    # given a fresh database upgraded to head
    upgrade(empty_engine)
    if empty_engine.dialect.name != "postgresql":
        # then on SQLite there is nothing to configure, and the tables are still there
        assert {"messages", "webhook_deliveries"} <= table_names(empty_engine)
        return
    # then rendered messages and raw webhook bodies are compressed with LZ4, not pglz
    with empty_engine.connect() as conn:
        methods = dict(conn.execute(text(
            "SELECT attrelid::regclass::text || '.' || attname, attcompression FROM pg_attribute "
            "WHERE attrelid IN ('messages'::regclass, 'webhook_deliveries'::regclass) "
            "AND attname IN ('html', 'body')")).all())
    assert methods == {"messages.html": "l", "webhook_deliveries.body": "l"}
