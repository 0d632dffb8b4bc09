"""Replay every fixture of every registered connector (Zulip's rule for incoming webhooks).

Each fixture goes through the whole pure path a delivery takes: sign -> verify -> read the
envelope -> parse -> normalize. Its expected outcome is written down below, so a new fixture
without an expectation fails, and a handled topic without a fixture fails too.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.model import (AppUninstalled, CartConverted, CartObserved, CartRemoved, ConsentChanged,
                          CustomerDataRequested, CustomerRedacted, ShopRedacted, UnprocessableDelivery)
from connectors.registry import CONNECTORS
from tests.support.fixtures import (iter_fixtures, raw_body, shopify_headers, topic_of,
                                    woocommerce_headers)

SECRET = "fixture-replay-secret"
HEADERS = {"shopify": shopify_headers, "woocommerce": woocommerce_headers}
IGNORED = None  # the outcome of a deliberately ignored topic

# What each fixture's variant means, by file name. None = acknowledged and dropped.
EXPECTED = {
    "shopify/app_uninstalled__reference.json": AppUninstalled,
    "shopify/checkouts_create__billing_country.json": CartObserved,
    "shopify/checkouts_create__cyrillic_bg.json": CartObserved,
    "shopify/checkouts_create__cyrillic_kk.json": CartObserved,
    "shopify/checkouts_create__cyrillic_ru.json": CartObserved,
    "shopify/checkouts_create__guest.json": CartObserved,
    "shopify/checkouts_create__phone_only.json": CartObserved,
    "shopify/checkouts_create__reference.json": CartObserved,
    "shopify/checkouts_delete__removed.json": CartRemoved,
    "shopify/checkouts_update__completed.json": CartConverted,
    "shopify/checkouts_update__cyrillic_uk.json": CartObserved,
    "shopify/checkouts_update__multi_currency.json": CartObserved,
    "shopify/customers_data_request__reference.json": CustomerDataRequested,
    "shopify/customers_email_marketing_consent_update__reference.json": ConsentChanged,
    "shopify/customers_email_marketing_consent_update__subscribed.json": ConsentChanged,
    "shopify/customers_email_marketing_consent_update__unsubscribed.json": ConsentChanged,
    "shopify/customers_redact__reference.json": CustomerRedacted,
    "shopify/orders_create__multi_currency.json": CartConverted,
    "shopify/orders_create__null_tokens.json": CartConverted,
    "shopify/orders_paid__with_checkout_token.json": CartConverted,
    "shopify/orders_updated__refunded.json": IGNORED,
    "shopify/shop_redact__reference.json": ShopRedacted,
    "woocommerce/action_woocommerce_add_to_cart__add_to_cart.json": IGNORED,
    "woocommerce/order_created__consent_meta.json": CartObserved,
    "woocommerce/order_created__completed.json": CartConverted,
    "woocommerce/order_created__pending.json": CartObserved,
    "woocommerce/order_deleted__deleted.json": CartRemoved,
    "woocommerce/order_updated__cancelled.json": CartRemoved,
    "woocommerce/order_updated__checkout_draft.json": CartObserved,
    "woocommerce/order_updated__failed.json": CartObserved,
    "woocommerce/order_updated__on_hold.json": CartConverted,
    "woocommerce/order_updated__pending.json": CartObserved,
    "woocommerce/order_updated__processing.json": CartConverted,
    "woocommerce/order_updated__refunded.json": CartRemoved,
    "woocommerce/order_updated__trash.json": CartRemoved,
}

ALL_FIXTURES = [(platform, path) for platform in sorted(CONNECTORS)
                for path in iter_fixtures(platform)]


def _key(platform: str, path: Path) -> str:
    return f"{platform}/{path.name}"


def _shop_key(platform: str, headers: dict[str, str]) -> str:
    """The shop the edge keys a delivery on (webhooks/__init__.py): the lowercased
    X-Shopify-Shop-Domain header, or the WooCommerce shop id from the URL. Compliance
    bodies must name that same shop, so the fixtures carry the test domain."""
    return headers["X-Shopify-Shop-Domain"].lower() if platform == "shopify" else "7"


@pytest.mark.parametrize(("platform", "path"), ALL_FIXTURES,
                         ids=[_key(platform, path) for platform, path in ALL_FIXTURES])
def test_every_fixture_normalizes_to_the_event_its_variant_implies(platform, path):
    # given
    assert _key(platform, path) in EXPECTED, f"add the expected outcome of {_key(platform, path)}"
    connector = CONNECTORS[platform]
    raw = raw_body(platform, path.name)
    headers = HEADERS[platform](topic_of(path), raw, SECRET)
    # when
    verification = connector.verify(headers, raw, [SECRET])
    envelope = connector.read_envelope(_shop_key(platform, headers), headers, raw)
    try:
        event = connector.normalize(envelope, json.loads(raw))
    except UnprocessableDelivery as error:  # the only exception allowed out of normalize
        event = error
    # then
    assert verification.ok, verification.code
    expected = EXPECTED[_key(platform, path)]
    if expected is IGNORED:
        assert event is None
    else:
        assert isinstance(event, expected), f"{path.name} gave {event!r}"


@pytest.mark.parametrize("platform", sorted(CONNECTORS))
def test_every_handled_topic_has_a_fixture(platform):
    # given
    connector = CONNECTORS[platform]
    # when
    covered = {topic_of(path) for path in iter_fixtures(platform)}
    # then
    missing = sorted(connector.handled_topics - covered)
    assert not missing, f"{platform}: add tests/fixtures/{platform}/<topic>__<variant>.json for {missing}"


def test_every_expectation_names_an_existing_fixture():
    # given
    existing = {_key(platform, path) for platform, path in ALL_FIXTURES}
    # when
    stale = sorted(set(EXPECTED) - existing)
    # then
    assert not stale, f"expectations without a fixture file: {stale}"


@pytest.mark.parametrize(("filename", "platform", "topic"), [
    ("checkouts_create__guest.json", "shopify", "checkouts/create"),
    ("orders_paid__with_checkout_token.json", "shopify", "orders/paid"),
    ("customers_data_request__x.json", "shopify", "customers/data_request"),
    ("order_updated__checkout_draft.json", "woocommerce", "order.updated"),
    ("action_woocommerce_add_to_cart__add_to_cart.json", "woocommerce", "action.woocommerce_add_to_cart"),
])
def test_fixture_file_names_map_back_to_their_topics(filename, platform, topic):
    # given / when
    found = topic_of(Path("tests/fixtures") / platform / filename)
    # then
    assert found == topic
