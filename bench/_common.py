"""Shared benchmark helpers: throwaway databases, settings and runtimes, figures, tables.

Every run gets its own database: a SQLite file in a temporary folder, or a PostgreSQL
database created on ``CARTBRIDGE_BENCH_PG`` (default: the local trust-auth server the
tests use) and dropped at the end, also when the run fails.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import secrets
import socket
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from bridge.db.engine import make_engine
from bridge.db.migrate import upgrade
from bridge.runtime import Runtime
from bridge.settings import Settings

PG_SERVER = os.environ.get("CARTBRIDGE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DATABASES = ("sqlite", "postgresql")
SHOPIFY_SECRET = "shpss_bench_secret"
SHOP_DOMAIN = "cartbridge-bench.myshopify.com"


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=(*DATABASES, "both"), default="both",
                        help="which database(s) to run on (default: both)")


def chosen_databases(choice: str) -> tuple[str, ...]:
    return DATABASES if choice == "both" else (choice,)


@contextmanager
def bench_database(kind: str, label: str) -> Iterator[str]:
    """A fresh, migrated database URL; gone when the block ends, whatever happened."""
    with tempfile.TemporaryDirectory(prefix=f"cartbridge-bench-{label}-") as folder:
        if kind == "sqlite":
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            migrate(url)
            yield url
            return
        with _pg_database(label) as url:
            migrate(url)
            yield url


@contextmanager
def _pg_database(label: str) -> Iterator[str]:
    name = f"cartbridge_bench_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield PG_SERVER.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def bench_secrets() -> dict[str, str]:
    """The environment a production-mode process needs (``DATABASE_URL`` aside)."""
    return {"SECRET_KEY": secrets.token_urlsafe(32), "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SHOPIFY_API_KEY": "bench-app", "SHOPIFY_API_SECRET": SHOPIFY_SECRET}


def make_settings(url: str, instance: Path, env: dict[str, str], **overrides) -> Settings:
    values = dict(database_url=url, secret_key=env["SECRET_KEY"], encryption_keys=(env["ENCRYPTION_KEYS"],),
                  instance_path=instance, shopify_api_key=env["SHOPIFY_API_KEY"],
                  shopify_api_secret=env["SHOPIFY_API_SECRET"])
    values.update(overrides)
    return Settings(**values)


def make_runtime(url: str, instance: Path, env: dict[str, str] | None = None, **overrides) -> Runtime:
    return Runtime.from_settings(make_settings(url, instance, env or bench_secrets(), **overrides))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def print_header(title: str, **params) -> None:
    print(f"== {title}")
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}, "
          f"Python {sys.version.split()[0]}")
    for name, value in params.items():
        print(f"{name.replace('_', ' ')}: {value}")
    print(flush=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(w) if index and i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    print(flush=True)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    return str(value)


def verdict(held: bool) -> str:
    return "ok" if held else "MISSED"


def database_version(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar()
            return f"PostgreSQL {conn.exec_driver_sql('show server_version').scalar()}"
    finally:
        engine.dispose()
