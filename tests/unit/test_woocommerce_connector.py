"""The WooCommerce connector on real-shaped payloads: statuses, signatures, ping, envelopes."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from werkzeug.datastructures import Headers

from bridge.model import UnprocessableDelivery
from connectors.woocommerce import CONNECTOR
from tests.support.fixtures import (load_fixture, raw_body, read_path, sign_woocommerce, topic_of,
                                    woocommerce_headers)

SECRET = "wc-secret"
PENDING, COMPLETED = "order_created__pending.json", "order_created__completed.json"
UK_PENDING, FAILED = "order_updated__pending.json", "order_updated__failed.json"
DRAFT, PROCESSING = "order_updated__checkout_draft.json", "order_updated__processing.json"
ON_HOLD, CANCELLED = "order_updated__on_hold.json", "order_updated__cancelled.json"
CONSENT = "order_created__consent_meta.json"


def _deliver(source: str | dict, topic: str | None = None):
    """Sign, verify, read the envelope and normalize a fixture (by name) or an edited payload."""
    is_name = isinstance(source, str)
    raw = raw_body("woocommerce", source) if is_name else json.dumps(source).encode()
    headers = woocommerce_headers(topic or topic_of(source, "woocommerce"), raw, SECRET)
    assert CONNECTOR.verify(headers, raw, [SECRET]).ok
    return CONNECTOR.normalize(CONNECTOR.read_envelope("7", headers, raw), json.loads(raw))


def _payload(name: str) -> dict:
    return json.loads(load_fixture("woocommerce", name))


# (fixture, dotted path into the event -- digits index a tuple --, expected value)
FIELDS = [
    (PENDING, "snapshot.external_id", "3081"),
    (PENDING, "snapshot.contact.email", "ivan.petrov@example.ru"),
    (PENDING, "snapshot.contact.first_name", "Иван"),
    (PENDING, "snapshot.contact.phone", "+79161234567"),
    (PENDING, "snapshot.contact.customer_id", None),
    (PENDING, "snapshot.locale", "ru"),
    (PENDING, "snapshot.currency", "RUB"),
    (PENDING, "snapshot.subtotal", Decimal("9470.00")),
    (PENDING, "snapshot.total", Decimal("9470.00")),
    (PENDING, "snapshot.recovery_url",
     "https://shop.example.com/checkout/order-pay/3081/?pay_for_order=true&key=wc_order_3081AbCdEf"),
    (PENDING, "snapshot.updated_at", datetime(2025, 11, 2, 11, 5, 12, tzinfo=UTC)),
    (PENDING, "snapshot.created_at", datetime(2025, 11, 2, 11, 5, 11, tzinfo=UTC)),
    (PENDING, "snapshot.accepts_marketing", None),
    (PENDING, "snapshot.country", "RU"),
    (PENDING, "snapshot.timezone", None),
    (PENDING, "snapshot.line_items.0.unit_price", Decimal("7490.0")),
    (PENDING, "snapshot.line_items.0.variant_id", "57"),
    (PENDING, "snapshot.line_items.1.variant_id", None),
    (PENDING, "snapshot.line_items.1.quantity", 2),
    (PENDING, "snapshot.line_items.0.image_url",
     "https://shop.example.com/wp-content/uploads/2025/10/jkt-w-bl-l.jpg"),
    (UK_PENDING, "snapshot.contact.first_name", "Олена"),
    (UK_PENDING, "snapshot.contact.customer_id", "1402"),
    (UK_PENDING, "snapshot.locale", "uk-UA"),
    (UK_PENDING, "snapshot.accepts_marketing", True),
    (FAILED, "snapshot.contact.first_name", "Айгүл"),
    (FAILED, "snapshot.locale", "kk"),
    (FAILED, "snapshot.accepts_marketing", False),
    (CONSENT, "snapshot.accepts_marketing", True),
    (CONSENT, "snapshot.timezone", "Europe/Kyiv"),
    (CONSENT, "snapshot.country", "UA"),
    (CONSENT, "snapshot.locale", "uk-UA"),
    (FAILED, "snapshot.recovery_url",
     "https://shop.example.com/checkout/order-pay/3083/?pay_for_order=true&key=wc_order_3083AbCdEf"),
    (DRAFT, "snapshot.recovery_url", None),
    (DRAFT, "snapshot.contact.email", None),
    (DRAFT, "snapshot.contact.first_name", None),
    (DRAFT, "snapshot.locale", "bg"),
    (DRAFT, "snapshot.line_items.0.unit_price", Decimal("24.9")),
    (DRAFT, "snapshot.subtotal", Decimal("74.70")),
    (COMPLETED, "order.order_id", "3080"),
    (COMPLETED, "order.checkout_ref", "3080"),
    (COMPLETED, "order.email", "customer@example.com"),
    (COMPLETED, "order.customer_id", "1377"),
    (COMPLETED, "order.total", Decimal("0.00")),
    (COMPLETED, "order.currency", "RUB"),
    (COMPLETED, "order.placed_at", datetime(2025, 10, 22, 2, 25, 54, tzinfo=UTC)),
    (PROCESSING, "order.placed_at", datetime(2025, 11, 6, 8, 1, 29, tzinfo=UTC)),
    (ON_HOLD, "order.placed_at", datetime(2025, 11, 7, 10, 0, tzinfo=UTC)),
    (CANCELLED, "external_id", "3087"),
    (CANCELLED, "occurred_at", datetime(2025, 11, 9, 6, 30, tzinfo=UTC)),
    ("order_updated__refunded.json", "external_id", "3088"),
    ("order_updated__trash.json", "external_id", "3089"),
    ("order_deleted__deleted.json", "external_id", "3081"),
]


@pytest.mark.parametrize(("name", "path", "expected"), FIELDS,
                         ids=[f"{name[:-5]}:{path}" for name, path, _ in FIELDS])
def test_order_field_is_normalized_as_the_shared_model_expects(name, path, expected):
    # given / when
    event = _deliver(name)
    # then
    assert read_path(event, path) == expected


def test_line_without_a_price_is_priced_from_its_subtotal_and_site_time_is_a_fallback():
    # given
    payload = _payload(PENDING)
    del payload["line_items"][1]["price"], payload["date_modified_gmt"]
    # when
    cart = _deliver(payload, "order.updated").snapshot
    # then
    assert cart.line_items[1].unit_price == Decimal("990.00")
    assert cart.updated_at == datetime(2025, 11, 2, 11, 5, 12, tzinfo=UTC)


def _with_meta(**meta) -> dict:
    """The consent fixture with its plugin meta replaced by ``meta`` (other meta kept)."""
    payload = _payload(CONSENT)
    kept = [entry for entry in payload["meta_data"] if not entry["key"].startswith("_cartbridge_")]
    payload["meta_data"] = kept + [{"id": 9100 + index, "key": key, "value": value}
                                   for index, (key, value) in enumerate(meta.items())]
    return payload


@pytest.mark.parametrize("key", ["_cartbridge_accepts_marketing", "mailchimp_woocommerce_is_subscribed"])
@pytest.mark.parametrize(("value", "accepts"), [
    ("1", True), ("yes", True), ("true", True), (True, True), (1, True),
    ("0", False), ("no", False), ("false", False), (False, False), (0, False),
    ("", None), ("maybe", None), (None, None),
])
def test_opt_in_meta_reads_as_yes_no_or_unknown(key, value, accepts):
    # given an order whose opt-in meta holds ``value``
    payload = _with_meta(**{key: value})
    # when
    cart = _deliver(payload, "order.created").snapshot
    # then
    assert cart.accepts_marketing is accepts


def test_order_without_opt_in_meta_has_unknown_consent_and_our_plugin_wins_over_mailchimp():
    # given
    absent = _with_meta()
    both = _with_meta(_cartbridge_accepts_marketing="no", mailchimp_woocommerce_is_subscribed="1")
    # when
    carts = [_deliver(payload, "order.created").snapshot for payload in (absent, both)]
    # then
    assert [cart.accepts_marketing for cart in carts] == [None, False]


@pytest.mark.parametrize(("zone", "expected"), [
    ("Europe/Kyiv", "Europe/Kyiv"), (" Asia/Almaty ", "Asia/Almaty"), ("Mars/Olympus_Mons", None),
    ("europe/kyiv", None), ("../../../etc/passwd", None), ("", None), (3, None),
])
def test_timezone_is_kept_only_when_the_tz_database_knows_it(zone, expected):
    # given
    payload = _with_meta(_cartbridge_timezone=zone)
    # when / then
    assert _deliver(payload, "order.created").snapshot.timezone == expected


@pytest.mark.parametrize(("billing", "shipping", "country"), [
    ("ua", "PL", "UA"), ("", "PL", "PL"), ("", "", None), ("Ukraine", "", None),
])
def test_country_is_the_billing_code_else_the_shipping_code(billing, shipping, country):
    # given
    payload = _payload(CONSENT)
    payload["billing"]["country"], payload["shipping"]["country"] = billing, shipping
    # when / then
    assert _deliver(payload, "order.created").snapshot.country == country


def test_deleted_order_is_removed_now_because_woocommerce_sends_no_time():
    # given
    before = datetime.now(UTC)
    # when
    event = _deliver("order_deleted__deleted.json")
    # then
    assert before <= event.occurred_at <= datetime.now(UTC)


def _edited(change, name: str = PENDING) -> dict:
    payload = _payload(name)
    change(payload)
    return payload


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("order.updated", _edited(lambda p: p.update(status="shipped")), "unknown order status: shipped"),
    ("order.updated", _edited(lambda p: p.pop("status")), "unknown order status: None"),
    ("order.updated", "webhook_id=16", "payload is not a JSON object"),
    ("order.created", _edited(lambda p: p.pop("id")), "order without an id"),
    ("order.created", _edited(lambda p: p.update(total="9 470,00")), "total is not a number"),
    ("order.created", _edited(lambda p: p.update(currency="")), "currency is missing"),
    ("order.created", _edited(lambda p: p.update(billing=[])), "billing is not an object"),
    ("order.created", _edited(lambda p: p.update(meta_data="ru")), "meta_data is not a list"),
    ("order.created", _edited(lambda p: p["line_items"][0].update(quantity=-1)), "line_items[0].quantity"),
    ("order.created", _edited(lambda p: p["line_items"][0].update(subtotal=None)), "line_items[0].subtotal"),
    ("order.updated", _edited(lambda p: p.update(date_modified_gmt=None, date_modified="soon")),
     "date_modified_gmt"),
    ("order.updated", _edited(lambda p: p.update(date_modified_gmt=None, date_modified=None),
                              CANCELLED), "date_modified_gmt"),
    ("order.deleted", {"id": None}, "order without an id"),
    ("product.created", {"id": 15}, "unhandled topic: product.created"),
])
def test_garbage_payloads_and_unknown_topics_are_unprocessable_with_a_reason(topic, payload, reason):
    # given
    envelope = CONNECTOR.read_envelope("7", woocommerce_headers(topic, b"{}", SECRET), b"{}")
    # when
    with pytest.raises(UnprocessableDelivery) as caught:
        CONNECTOR.normalize(envelope, payload)
    # then
    assert reason in caught.value.reason


def test_action_topics_are_acknowledged_and_ignored():
    # given
    emptied = {"action": "woocommerce_cart_emptied", "arg": ""}
    # when / then
    assert _deliver("action_woocommerce_add_to_cart__add_to_cart.json") is None
    assert _deliver(emptied, "action.woocommerce_cart_emptied") is None


def test_real_woocommerce_body_verifies_with_its_headers_and_secret():
    # given
    captured = json.loads(load_fixture("woocommerce", "order_created__completed.headers.json"))
    raw = raw_body("woocommerce", COMPLETED)
    # when
    verification = CONNECTOR.verify(captured["headers"], raw, [captured["_test_secret"]])
    reserialized = CONNECTOR.verify(captured["headers"], json.dumps(json.loads(raw)).encode(),
                                    [captured["_test_secret"]])
    # then
    assert (verification.ok, verification.code) == (True, "verified")
    assert (reserialized.ok, reserialized.code) == (False, "invalid_signature")


def test_readable_fixture_and_its_raw_twin_hold_the_same_order():
    # given / when / then
    assert _payload(COMPLETED) == json.loads(raw_body("woocommerce", COMPLETED))


RAW = b'{"id":3080,"date_modified_gmt":"2025-10-22T02:25:54"}'
SIGNATURE = "X-WC-Webhook-Signature"


@pytest.mark.parametrize(("headers", "secrets", "ok", "code"), [
    ({SIGNATURE: sign_woocommerce(RAW, "new")}, ["new"], True, "verified"),
    (Headers({"x-wc-webhook-signature": sign_woocommerce(RAW, "new")}), ["new"], True, "verified"),
    ({SIGNATURE: sign_woocommerce(RAW, "old")}, ["new", "old"], True, "verified"),
    ({SIGNATURE: sign_woocommerce(RAW, "wrong")}, ["new", "old"], False, "invalid_signature"),
    ({SIGNATURE: "not base64 at all ✓"}, ["new"], False, "invalid_signature"),
    ({"X-WC-Webhook-Topic": "order.updated"}, ["new"], False, "missing_signature_header"),
    ({SIGNATURE: sign_woocommerce(RAW, "")}, [""], False, "no_secret_configured"),
], ids=["good", "werkzeug_headers", "old_secret_during_rotation", "wrong_secret",
        "garbage_signature", "missing_header", "no_secret"])
def test_signature_is_checked_on_the_raw_body(headers, secrets, ok, code):
    # given / when
    verification = CONNECTOR.verify(headers, RAW, secrets)
    # then
    assert (verification.ok, verification.code) == (ok, code)
    assert verification.status == (200 if ok else 401)


@pytest.mark.parametrize(("headers", "raw", "is_ping"), [
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"webhook_id=16", True),
    ({"X-WC-Webhook-Topic": "order.updated"}, b"webhook_id=16", False),
    ({}, b"webhook_id=16\n", False),
    ({}, b"webhook_id=abc", False),
    ({}, RAW, False),
], ids=["creation_ping", "signed_delivery", "trailing_newline", "not_digits", "json_body"])
def test_only_the_unsigned_creation_ping_is_a_handshake(headers, raw, is_ping):
    # given / when / then
    assert CONNECTOR.handshake(headers, raw) is is_ping


def _key(raw: bytes, topic: str = "order.updated", delivery_id: str = "d1") -> str:
    headers = woocommerce_headers(topic, raw, SECRET, {"X-WC-Webhook-Delivery-ID": delivery_id})
    return CONNECTOR.read_envelope("7", headers, raw).delivery_key


def test_delivery_key_is_one_per_webhook_order_and_modification():
    # given
    later = RAW.replace(b"02:25:54", b"02:31:07")
    # when / then
    assert _key(RAW, delivery_id="d1") == _key(RAW, delivery_id="d2") == "16:3080:2025-10-22T02:25:54"
    assert _key(later) != _key(RAW)
    assert _key(b'{"id":3081}', "order.deleted") == "16:3081:deleted"
    assert _key(b"not json").startswith("sha256:")


def test_envelope_carries_topic_and_webhook_extras_and_needs_a_topic():
    # given
    headers = woocommerce_headers("order.updated", RAW, SECRET)
    # when
    envelope = CONNECTOR.read_envelope("7", Headers(headers), RAW)
    # then
    assert (envelope.platform, envelope.shop_key, envelope.topic) == ("woocommerce", "7", "order.updated")
    assert envelope.triggered_at is None
    assert envelope.extra == {"webhook_id": "16", "delivery_id": "4a8d4394fa7b1c883747ad86babf922b",
                              "source": "https://shop.example.com/", "resource": "order",
                              "event": "updated"}
    with pytest.raises(UnprocessableDelivery, match="X-WC-Webhook-Topic"):
        CONNECTOR.read_envelope("7", {SIGNATURE: "x"}, RAW)
