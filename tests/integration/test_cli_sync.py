"""`cartbridge sync SHOP [--since ...]` on the embedded SQLite instance and on PostgreSQL, against
a scripted fake platform in the connector registry (the real-server stories are elsewhere)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click
import pytest
from sqlalchemy import update

import bridge.cli_shops  # noqa: F401  (registers shops on the group)
import bridge.cli_sync  # noqa: F401  (registers sync on the group)
from bridge.cli_sync import parse_since
from bridge.db.engine import make_engine
from bridge.db.tables import ShopSync
from bridge.settings import load_settings
from connectors.base import CallOutcome, ChangePage, StoreResult
from connectors.registry import CONNECTORS
from tests.integration.test_cli import (ACCESS_TOKEN, SHOPIFY_DOMAIN, add_shopify, cartbridge,  # noqa: F401
                                        embedded, restore_signal_handlers, upgraded)
from tests.support.fake_platform import FakePlatform, shopify_checkout

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def shopify(monkeypatch) -> FakePlatform:
    fake = FakePlatform("shopify")
    monkeypatch.setitem(CONNECTORS, "shopify", fake.connector())
    return fake


def two_pages(fake: FakePlatform) -> None:
    left = datetime.now(UTC) - timedelta(hours=3)
    fake.pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", left),), total=3),
                               ChangePage((shopify_checkout("tok-2", left),), total=3, skipped=1)]


def test_a_sync_reads_every_page_prints_what_it_found_and_leaves_the_rest_to_the_worker(
        upgraded, shopify, restore_signal_handlers):
    # given a shop added by hand with its token, whose platform holds two abandoned checkouts
    # and one checkout without a token
    add_shopify(upgraded)
    two_pages(shopify)
    # when the operator reads its last seven days
    started = datetime.now(UTC)
    output = upgraded.ok("sync", SHOPIFY_DOMAIN, "--since", "7d")
    # then both kinds were read from seven days back, and the command says what it found
    [(kind, since, _cursor), *_later] = [call[1:] for call in shopify.calls if call[0] == "changes"]
    assert kind == "checkouts" and abs(since - (started - timedelta(days=7))) < timedelta(minutes=1)
    assert output.splitlines()[0] == f"reading {SHOPIFY_DOMAIN}"
    assert output.splitlines()[-1] == "3 records read, 2 new, 1 skipped; the worker applies them"
    assert ACCESS_TOKEN not in output
    # and the worker applies them
    assert upgraded.ok("worker", "--once").startswith("deliveries 2,")


def test_the_first_sync_enrolls_the_shop_and_the_next_one_reads_from_where_it_stopped(upgraded, shopify):
    # given a shop synced once by hand
    add_shopify(upgraded)
    two_pages(shopify)
    upgraded.ok("sync", SHOPIFY_DOMAIN)
    first_since = shopify.calls[0][2]
    # when it is synced again without --since
    shopify.calls.clear()
    output = upgraded.ok("sync", SHOPIFY_DOMAIN)
    # then the first read went back BACKFILL_DAYS (7), the second from just before the first
    assert abs(first_since - (datetime.now(UTC) - timedelta(days=7))) < timedelta(minutes=1)
    assert datetime.now(UTC) - shopify.calls[0][2] < timedelta(minutes=6)
    # and what was stored the first time is not stored again
    assert output.splitlines()[-1] == "3 records read, 0 new, 1 skipped; the worker applies them"


def test_a_platform_failure_fails_the_command_with_the_platforms_message(upgraded, shopify):
    # given a shop whose platform answers 503
    add_shopify(upgraded)
    shopify.fail["changes"] = StoreResult(CallOutcome.RETRY, error="HTTP 503")
    # when it is synced / then the command fails saying so
    result = upgraded("sync", SHOPIFY_DOMAIN)
    assert result.exit_code == 1
    assert "0 records read, 0 new, 0 skipped; the sync stopped: checkouts: HTTP 503" in result.output


def test_an_unknown_shop_is_named(upgraded):
    result = upgraded("sync", "nowhere.myshopify.com")
    assert result.exit_code == 1
    assert "no shop 'nowhere.myshopify.com'" in result.output


def test_a_shop_without_credentials_is_refused_before_anything_is_called(upgraded, shopify):
    # given a shop added without a token
    output = upgraded.ok("shops", "add", "shopify", "--domain", SHOPIFY_DOMAIN)
    shop_id = re.search(r"shop (\d+) added", output).group(1)
    # when it is synced by id / then the command says what is missing
    result = upgraded("sync", shop_id)
    assert result.exit_code == 1
    assert f"{SHOPIFY_DOMAIN} has no API credentials" in result.output
    assert shopify.calls == []


@pytest.mark.parametrize("since", ["yesterday", "7w", "2026-13-01", "2030-01-01"])
def test_a_since_that_is_not_a_span_or_a_past_date_is_a_usage_error(upgraded, since):
    add_shopify(upgraded)
    result = upgraded("sync", SHOPIFY_DOMAIN, "--since", since)
    assert result.exit_code == 2
    assert "--since" in result.output


# parse_since (pure)

@pytest.mark.parametrize("text, expected", [
    ("7d", NOW - timedelta(days=7)),
    ("36h", NOW - timedelta(hours=36)),
    ("90m", NOW - timedelta(minutes=90)),
    (" 7D ", NOW - timedelta(days=7)),
    ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-20T08:30", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
    ("2026-11-20T08:30:00+02:00", datetime(2026, 11, 20, 6, 30, tzinfo=UTC)),
])
def test_since_takes_spans_dates_and_moments(text, expected):
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "d7", "7 days", "2026-11-24", "soon"])
def test_since_refuses_anything_else(text):
    with pytest.raises(click.BadParameter):
        parse_since(text, NOW)


def test_a_shop_a_worker_is_reading_is_not_read_twice(upgraded, shopify):
    # given a shop whose sync a worker has claimed just now
    add_shopify(upgraded)
    upgraded.ok("sync", SHOPIFY_DOMAIN)
    engine = make_engine(load_settings().database_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(ShopSync).values(sync_claimed_until=datetime.now(UTC) + timedelta(minutes=30)))
    finally:
        engine.dispose()
    shopify.calls.clear()
    # when the operator syncs it too / then the command says so and reads nothing
    result = upgraded("sync", SHOPIFY_DOMAIN)
    assert result.exit_code == 1
    assert f"a worker is reading {SHOPIFY_DOMAIN} right now" in result.output
    assert shopify.calls == []
