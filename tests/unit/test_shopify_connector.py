"""The Shopify connector on real-shaped payloads: fields, signatures, envelopes, garbage."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from werkzeug.datastructures import Headers

from bridge.model import UnprocessableDelivery
from connectors.shopify import CONNECTOR
from tests.support.fixtures import load_fixture, read_path, shopify_headers, sign_shopify, topic_of

SECRET = "shpss_current"
REF, NULL_TOKENS = "checkouts_create__reference.json", "orders_create__null_tokens.json"


def _deliver(source: str | dict, topic: str | None = None, overrides: dict | None = None):
    """Sign, verify, read the envelope and normalize a fixture (by name) or an edited payload."""
    is_name = isinstance(source, str)
    raw = load_fixture("shopify", source) if is_name else json.dumps(source).encode()
    headers = shopify_headers(topic or topic_of(source, "shopify"), raw, SECRET, overrides)
    assert CONNECTOR.verify(headers, raw, [SECRET]).ok
    return CONNECTOR.normalize(CONNECTOR.read_envelope("shop", headers, raw), json.loads(raw))


def _payload(name: str) -> dict:
    return json.loads(load_fixture("shopify", name))


RU, UK = "checkouts_create__cyrillic_ru.json", "checkouts_update__cyrillic_uk.json"
BG, KK = "checkouts_create__cyrillic_bg.json", "checkouts_create__cyrillic_kk.json"
MULTI, DONE = "checkouts_update__multi_currency.json", "checkouts_update__completed.json"
DELETE, PAID = "checkouts_delete__removed.json", "orders_paid__with_checkout_token.json"
BILLING = "checkouts_create__billing_country.json"
CART_TOKEN = "eeafa272cebfd4b22385bc4b645e762c"

# (fixture, dotted path into the event -- digits index a tuple --, expected value)
FIELDS = [
    (REF, "snapshot.external_id", "123123123"),
    (REF, "snapshot.cart_token", CART_TOKEN),
    (REF, "snapshot.subtotal", Decimal("398.00")),
    (REF, "snapshot.total", Decimal("421.88")),
    (REF, "snapshot.currency", "USD"),
    (REF, "snapshot.updated_at", datetime(2022, 1, 1, tzinfo=UTC)),
    (REF, "snapshot.recovery_url",
     "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token"),
    (REF, "snapshot.accepts_marketing", False),
    (REF, "snapshot.contact.email", "example@email.com"),
    (REF, "snapshot.contact.customer_id", "603851970716743426"),
    (REF, "snapshot.line_items.0.unit_price", Decimal("199.00")),
    (REF, "snapshot.line_items.0.variant_title", "Pink"),
    (REF, "snapshot.line_items.0.product_id", "632910392"),
    (REF, "snapshot.line_items.0.variant_id", "808950810"),
    (REF, "snapshot.line_items.0.sku", "IPOD2008PINK"),
    (REF, "snapshot.country", "US"),
    (REF, "snapshot.timezone", None),
    (BILLING, "snapshot.country", "UA"),
    (BILLING, "snapshot.locale", "uk"),
    (BILLING, "snapshot.timezone", None),
    (RU, "snapshot.contact.first_name", "Иван"),
    (RU, "snapshot.contact.email", "ivan.petrov@example.ru"),
    (RU, "snapshot.locale", "ru"),
    (RU, "snapshot.line_items.1.quantity", 2),
    (RU, "snapshot.line_items.0.title", "Куртка зимняя"),
    (UK, "snapshot.contact.first_name", "Олена"),
    (UK, "snapshot.locale", "uk"),
    (UK, "snapshot.created_at", datetime(2025, 11, 3, 7, 12, 3, tzinfo=UTC)),
    (BG, "snapshot.contact.first_name", "Десислава"),
    (BG, "snapshot.locale", "bg"),
    (KK, "snapshot.contact.first_name", "Айгүл"),
    (KK, "snapshot.currency", "KZT"),
    ("checkouts_create__guest.json", "snapshot.contact.first_name", "Bob"),
    ("checkouts_create__guest.json", "snapshot.contact.customer_id", None),
    ("checkouts_create__phone_only.json", "snapshot.contact.email", None),
    ("checkouts_create__phone_only.json", "snapshot.contact.phone", "+77011234567"),
    ("checkouts_create__phone_only.json", "snapshot.contact.first_name", "Ерлан"),
    (MULTI, "snapshot.currency", "EUR"),
    (MULTI, "snapshot.total", Decimal("387.96")),
    (MULTI, "snapshot.line_items.0.title", "iPod Nano - 8 Go"),
    (DONE, "order.order_id", "checkout:123123123"),
    (DONE, "order.checkout_ref", "123123123"),
    (DONE, "order.cart_token", CART_TOKEN),
    (DONE, "order.placed_at", datetime(2022, 1, 1, 15, 15, tzinfo=UTC)),
    (DONE, "order.email", "example@email.com"),
    (DELETE, "external_id", None),
    (DELETE, "cart_token", CART_TOKEN),
    (DELETE, "occurred_at", datetime(2025, 11, 8, 9, 30, 2, 123456, tzinfo=UTC)),
    (NULL_TOKENS, "order.order_id", "820982911946154508"),
    (NULL_TOKENS, "order.checkout_ref", None),
    (NULL_TOKENS, "order.cart_token", None),
    (NULL_TOKENS, "order.email", "jon@example.com"),
    (NULL_TOKENS, "order.customer_id", "115310627314723954"),
    (NULL_TOKENS, "order.total", Decimal("404.95")),
    (NULL_TOKENS, "order.placed_at", datetime(2022, 1, 1, tzinfo=UTC)),
    ("orders_create__multi_currency.json", "order.total", Decimal("387.96")),
    ("orders_create__multi_currency.json", "order.currency", "EUR"),
    (PAID, "order.checkout_ref", "b7d1c0e4f2a94c55"),
    (PAID, "order.placed_at", datetime(2025, 11, 8, 9, 29, 58, tzinfo=UTC)),
]


@pytest.mark.parametrize(("name", "path", "expected"), FIELDS,
                         ids=[f"{name[:-5]}:{path}" for name, path, _ in FIELDS])
def test_payload_field_is_normalized_as_the_shared_model_expects(name, path, expected):
    # given / when
    event = _deliver(name)
    # then
    assert read_path(event, path) == expected
    if isinstance(expected, datetime):
        assert read_path(event, path).tzinfo is not None


def test_email_is_stripped_and_empty_contact_strings_become_none():
    # given
    payload = _payload("checkouts_create__cyrillic_ru.json")
    payload.update(email="  Ivan.Petrov@Example.RU ", phone="")
    payload["customer"].update(phone="", first_name="")
    # when
    contact = _deliver(payload, "checkouts/create").snapshot.contact
    # then
    assert (contact.email, contact.phone, contact.first_name) == ("ivan.petrov@example.ru", None, "Иван")


def test_shopifys_placeholder_variant_title_is_dropped():
    # given a product without options: its only variant is titled "Default Title"
    payload = _payload(REF)
    payload["line_items"][0].update(variant_title="Default Title", presentment_variant_title="Default Title")
    # when
    first, second = _deliver(payload, "checkouts/create").snapshot.line_items
    # then the placeholder is not shown to the shopper, a real variant title is kept
    assert (first.variant_title, second.variant_title) == (None, "Pink")


def test_line_item_image_and_product_url_are_read_when_present():
    # given
    payload = _payload(REF)
    payload["line_items"][0].update(image_url="https://cdn.example/ipod.jpg", url="/products/ipod-nano")
    payload["line_items"][1]["image"] = {"src": "https://cdn.example/ipod-2.jpg"}
    # when
    first, second = _deliver(payload, "checkouts/create").snapshot.line_items
    # then
    assert (first.image_url, first.product_url) == ("https://cdn.example/ipod.jpg", "/products/ipod-nano")
    assert (second.image_url, second.product_url) == ("https://cdn.example/ipod-2.jpg", None)


@pytest.mark.parametrize(("billing", "shipping", "country"), [
    ({"country_code": "ua"}, {"country_code": "PL"}, "UA"),
    (None, {"country_code": "PL"}, "PL"),
    ({"country_code": ""}, {"country_code": "PL"}, "PL"),
    ({"country_code": "Ukraine"}, None, None),
    ({"country_code": 380}, {"country": "Poland"}, None),
], ids=["billing_wins_and_is_upper_cased", "no_billing_address", "empty_billing_code",
        "a_name_is_not_a_code", "no_code_anywhere"])
def test_buyer_country_is_the_billing_code_else_the_shipping_code(billing, shipping, country):
    # given a buyer billed in one country who ships to another
    payload = _payload(BILLING) | {"billing_address": billing, "shipping_address": shipping}
    # when
    cart = _deliver(payload, "checkouts/create").snapshot
    # then the billing address tells the buyer's own country; garbage is no country at all
    assert (cart.country, cart.timezone) == (country, None)


def test_completed_checkout_with_an_order_id_converts_to_that_order():
    # given
    payload = _payload("checkouts_update__completed.json") | {"order_id": 450789469}
    # when
    event = _deliver(payload, "checkouts/update")
    # then
    assert event.order.order_id == "450789469"


def test_deleted_checkout_without_a_trigger_time_is_removed_now():
    # given
    before = datetime.now(UTC)
    # when
    event = _deliver(DELETE, overrides={"X-Shopify-Triggered-At": None})
    # then
    assert before <= event.occurred_at <= datetime.now(UTC)


def test_order_without_presentment_money_pairs_the_shop_total_with_the_shop_currency():
    # given
    payload = _payload("orders_create__multi_currency.json")
    del payload["total_price_set"]
    # when
    order = _deliver(payload, "orders/paid").order
    # then
    assert (order.total, order.currency) == (Decimal("421.88"), "USD")


def _edited(change) -> dict:
    payload = _payload(REF)
    change(payload)
    return payload


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("checkouts/create", ["not", "an", "object"], "payload is not a JSON object"),
    ("checkouts/create", _edited(lambda p: p.pop("token")), "without a checkout token"),
    ("checkouts/update", _edited(lambda p: p.update(total_price="12,50")), "total_price is not a number"),
    ("checkouts/update", _edited(lambda p: p.update(subtotal_price="NaN")), "subtotal_price is not a finite"),
    ("checkouts/create", _edited(lambda p: p.update(updated_at="yesterday")), "updated_at is missing"),
    ("checkouts/create", _edited(lambda p: p.update(customer="john")), "customer is not an object"),
    ("checkouts/create", _edited(lambda p: p.update(line_items={"a": 1})), "line_items is not a list"),
    ("checkouts/create", _edited(lambda p: p["line_items"][1].update(quantity="two")),
     "line_items[1].quantity"),
    ("checkouts/create", _edited(lambda p: p.update(presentment_currency=None, currency=None)),
     "currency is missing"),
    ("checkouts/delete", {"id": 1}, "without cart_token"),
    ("orders/create", {"total_price": "1.00", "currency": "USD"}, "without an order id"),
    ("orders/paid", {"id": 5, "total_price": "1.00", "currency": "USD"},
     "without processed_at or created_at"),
    ("products/create", {"id": 5}, "unhandled topic: products/create"),
])
def test_garbage_payloads_and_unknown_topics_are_unprocessable_with_a_reason(topic, payload, reason):
    # given
    raw = json.dumps(payload).encode()
    headers = shopify_headers(topic, raw, SECRET)
    envelope = CONNECTOR.read_envelope("shop", headers, raw)
    # when
    with pytest.raises(UnprocessableDelivery) as caught:
        CONNECTOR.normalize(envelope, payload)
    # then
    assert reason in caught.value.reason


RAW = b'{"token": "123123123"}'


@pytest.mark.parametrize(("headers", "secrets", "ok", "code"), [
    ({"X-Shopify-Hmac-Sha256": sign_shopify(RAW, "new")}, ["new"], True, "verified"),
    ({"x-shopify-hmac-sha256": sign_shopify(RAW, "new")}, ["new"], True, "verified"),
    (Headers({"X-SHOPIFY-HMAC-SHA256": sign_shopify(RAW, "new")}), ["new"], True, "verified"),
    ({"X-Shopify-Hmac-Sha256": sign_shopify(RAW, "old")}, ["new", "old"], True, "verified"),
    ({"X-Shopify-Hmac-Sha256": sign_shopify(RAW, "older")}, ["a", "b", "older"], True, "verified"),
    ({"X-Shopify-Hmac-Sha256": sign_shopify(RAW, "wrong")}, ["new", "old"], False, "invalid_hmac"),
    ({"X-Shopify-Hmac-Sha256": sign_shopify(RAW, "old")}, ["new"], False, "invalid_hmac"),
    ({"X-Shopify-Topic": "checkouts/create"}, ["new"], False, "missing_hmac_header"),
    ({"X-Shopify-Hmac-Sha256": sign_shopify(RAW, "")}, ["", ""], False, "no_secret_configured"),
], ids=["good", "lowercase_names", "werkzeug_headers", "old_secret_during_rotation",
        "third_secret", "wrong_secret", "retired_secret", "missing_header", "no_secret"])
def test_signature_is_checked_on_the_raw_body(headers, secrets, ok, code):
    # given / when
    verification = CONNECTOR.verify(headers, RAW, secrets)
    # then
    assert (verification.ok, verification.code) == (ok, code)
    assert verification.status == (200 if ok else 401)


def test_body_that_is_not_utf8_fails_verification_even_when_signed():
    # given
    raw = b'{"email": "\xff\xfe"}'
    # when
    verification = CONNECTOR.verify({"X-Shopify-Hmac-Sha256": sign_shopify(raw, "new")}, raw, ["new"])
    # then
    assert (verification.ok, verification.code, verification.status) == (False, "invalid_body_encoding", 401)


def test_envelope_reads_topic_webhook_id_trigger_time_and_extras():
    # given
    headers = Headers(shopify_headers("checkouts/update", RAW, SECRET))
    # when
    envelope = CONNECTOR.read_envelope("cartbridge-test.myshopify.com", headers, RAW)
    # then
    assert (envelope.platform, envelope.topic) == ("shopify", "checkouts/update")
    assert envelope.delivery_key == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert envelope.triggered_at == datetime(2025, 11, 8, 9, 30, 2, 123456, tzinfo=UTC)
    assert envelope.extra == {"event_id": "98880550-7158-44d4-b7cd-2c97c8a091b5", "api_version": "2026-07"}


def test_envelope_without_webhook_id_keys_on_the_body_so_duplicates_still_collapse():
    # given
    bare = {"X-Shopify-Topic": "checkouts/update", "X-Shopify-Triggered-At": "garbled"}
    # when
    first, again = (CONNECTOR.read_envelope("shop", bare, RAW) for _ in range(2))
    other = CONNECTOR.read_envelope("shop", bare, RAW + b" ")
    # then
    assert first.delivery_key == again.delivery_key != other.delivery_key
    assert first.delivery_key.startswith("sha256:") and first.triggered_at is None


def test_envelope_without_a_topic_cannot_be_identified():
    # given / when / then
    with pytest.raises(UnprocessableDelivery, match="X-Shopify-Topic"):
        CONNECTOR.read_envelope("shop", {"X-Shopify-Webhook-Id": "1"}, RAW)


def test_shopify_has_no_handshake():
    # given / when / then
    assert CONNECTOR.handshake({}, b"webhook_id=16") is False
