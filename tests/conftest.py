"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL: one database per test run, created on 127.0.0.1:5432 (trust auth) and
dropped at the end; tables are emptied between tests. SQLite: a fresh migrated file
per test. ``CARTBRIDGE_TEST_DATABASES=sqlite`` narrows a local run; CI runs both.
"""
from __future__ import annotations

import io
import logging
import os
import secrets
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from bridge.db.migrate import upgrade
from bridge.db.tables import Base
from bridge.logs import KeyValueFormatter
from bridge.runtime import Runtime
from bridge.settings import Settings

PG_SERVER = os.environ.get("CARTBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b.strip() for b in os.environ.get("CARTBRIDGE_TEST_DATABASES", "sqlite,postgresql").split(",")]
SHOPIFY_SECRET = "shpss_test_secret_for_webhooks_00000000"  # as long as a real one (38)
SHOPIFY_OLD_SECRET = "shpss_previous_secret_000000000000000000"


class Clock:
    """Injected time: tests move it instead of sleeping."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture(scope="session")
def pg_database_url():
    name = f"cartbridge_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_SERVER.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        from bridge.db.engine import make_engine
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("pg_database_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_settings(database_url: str, tmp_path, **overrides) -> Settings:
    values = dict(database_url=database_url, secret_key="test-secret-key",
                  encryption_keys=(Fernet.generate_key().decode(),), instance_path=tmp_path,
                  shopify_api_key="test-app", shopify_api_secret=SHOPIFY_SECRET,
                  shopify_api_secret_previous=SHOPIFY_OLD_SECRET, public_url="http://127.0.0.1:9")
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))


@pytest.fixture
def runtime(database_url, tmp_path, clock):
    rt = Runtime.from_settings(make_settings(database_url, tmp_path), now=clock)
    yield rt
    rt.close()


@pytest.fixture
def log_text():
    """Every record, at every level, as the production formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream.getvalue
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.fixture
def app(runtime):
    from bridge.app import create_app
    return create_app({"TESTING": True}, runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_url(app):
    """The test's app on a real socket (threaded werkzeug): for a browser, or a platform
    server that calls back (WooCommerce's key callback and webhook ping)."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
