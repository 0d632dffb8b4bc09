"""Shopify's compliance, uninstall and consent topics: the events they become, and the bodies refused."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bridge.model import (AppUninstalled, ConsentChanged, Contact, CustomerDataRequested, CustomerRedacted,
                          ShopRedacted, UnprocessableDelivery)
from connectors.shopify import CONNECTOR
from tests.support.fixtures import load_fixture, shopify_headers, topic_of

SECRET = "shpss_current"
OTHER_SHOP = "other-shop.myshopify.com"
TRIGGERED_AT = datetime(2025, 11, 8, 9, 30, 2, 123456, tzinfo=UTC)  # X-Shopify-Triggered-At of the helpers
DATA_REQUEST, REDACT = "customers_data_request__reference.json", "customers_redact__reference.json"
SHOP_REDACT, UNINSTALLED = "shop_redact__reference.json", "app_uninstalled__reference.json"
SUBSCRIBED = "customers_email_marketing_consent_update__subscribed.json"
UNSUBSCRIBED = "customers_email_marketing_consent_update__unsubscribed.json"
NEVER_CHOSE = "customers_email_marketing_consent_update__reference.json"
COMPLIANCE = [DATA_REQUEST, REDACT, SHOP_REDACT]
JOHN = Contact(email="john@example.com", phone="555-625-1199", customer_id="191167")
ORDERS = ("299938", "280263", "220458")


def _deliver(source: str | dict, topic: str | None = None, overrides: dict | None = None):
    """Sign, verify, read the envelope as the edge does (the shop is the lowercased
    X-Shopify-Shop-Domain header) and normalize a fixture (by name) or an edited payload."""
    is_name = isinstance(source, str)
    raw = load_fixture("shopify", source) if is_name else json.dumps(source).encode()
    headers = shopify_headers(topic or topic_of(source, "shopify"), raw, SECRET, overrides)
    assert CONNECTOR.verify(headers, raw, [SECRET]).ok
    shop_key = headers["X-Shopify-Shop-Domain"].strip().lower()
    return CONNECTOR.normalize(CONNECTOR.read_envelope(shop_key, headers, raw), json.loads(raw))


def _refusal(source: str | dict, topic: str | None = None, overrides: dict | None = None) -> str:
    with pytest.raises(UnprocessableDelivery) as caught:
        _deliver(source, topic, overrides)
    return caught.value.reason


def _edited(name: str, **changes) -> dict:
    return json.loads(load_fixture("shopify", name)) | changes


def test_data_request_names_the_customer_the_request_and_the_orders():
    # given / when
    event = _deliver(DATA_REQUEST)
    # then
    assert event == CustomerDataRequested(contact=JOHN, request_id="9999", order_ids=ORDERS)


def test_redact_names_the_customer_and_the_orders_to_erase():
    # given / when
    event = _deliver(REDACT)
    # then
    assert event == CustomerRedacted(contact=JOHN, order_ids=ORDERS)


def test_shop_redact_erases_the_shop():
    # given / when / then
    assert _deliver(SHOP_REDACT) == ShopRedacted()


def test_uninstall_happened_when_shopify_triggered_it():
    # given the Shop resource as body
    # when
    event = _deliver(UNINSTALLED)
    stripped = _deliver(UNINSTALLED, overrides={"X-Shopify-Triggered-At": None})
    # then
    assert event == AppUninstalled(occurred_at=TRIGGERED_AT)
    assert stripped == AppUninstalled(occurred_at=None)


@pytest.mark.parametrize("name", COMPLIANCE)
def test_genuine_compliance_body_replayed_for_another_shop_is_refused(name):
    # given a body Shopify signed for the test shop, delivered with another shop's header
    overrides = {"X-Shopify-Shop-Domain": OTHER_SHOP}
    # when
    reason = _refusal(name, overrides=overrides)
    # then nothing of the other shop is erased or exported
    assert "cartbridge-test.myshopify.com" in reason and OTHER_SHOP in reason and "refused" in reason


@pytest.mark.parametrize("name", COMPLIANCE)
def test_compliance_body_naming_another_shop_or_none_is_refused(name):
    # given
    other, missing = _edited(name, shop_domain=OTHER_SHOP), _edited(name, shop_domain=None)
    # when
    reasons = _refusal(other, topic_of(name, "shopify")), _refusal(missing, topic_of(name, "shopify"))
    # then
    assert OTHER_SHOP in reasons[0]
    assert "without shop_domain" in reasons[1]


@pytest.mark.parametrize("name", COMPLIANCE)
def test_shop_domain_matches_whatever_its_letter_case(name):
    # given
    payload = _edited(name, shop_domain=" CartBridge-Test.MyShopify.com ")
    # when / then
    assert _deliver(payload, topic_of(name, "shopify")) is not None


def test_uninstall_body_naming_another_shop_is_refused_and_a_null_domain_is_not():
    # given
    other = _edited(UNINSTALLED, myshopify_domain=OTHER_SHOP)
    as_documented = _edited(UNINSTALLED, myshopify_domain=None)  # Shopify's own sample body
    # when
    reason = _refusal(other, "app/uninstalled")
    event = _deliver(as_documented, "app/uninstalled")
    # then
    assert OTHER_SHOP in reason and "refused" in reason
    assert event == AppUninstalled(occurred_at=TRIGGERED_AT)


@pytest.mark.parametrize("name", [DATA_REQUEST, REDACT])
@pytest.mark.parametrize("customer", [{}, None, {"id": None, "email": " ", "phone": ""}],
                         ids=["empty", "null", "blank_values"])
def test_privacy_request_without_email_phone_or_id_is_refused(name, customer):
    # given
    payload = _edited(name, customer=customer)
    # when
    reason = _refusal(payload, topic_of(name, "shopify"))
    # then
    assert "names no customer" in reason


@pytest.mark.parametrize("name", [DATA_REQUEST, REDACT])
def test_privacy_request_naming_only_an_email_is_honoured(name):
    # given "in some cases, a customer record contains only the customer's email address"
    payload = _edited(name, customer={"email": "John@Example.com"})
    # when
    event = _deliver(payload, topic_of(name, "shopify"))
    # then
    assert event.contact == Contact(email="john@example.com")


@pytest.mark.parametrize(("name", "field", "value", "reason"), [
    (DATA_REQUEST, "orders_requested", [299938, None], "orders_requested[1] is not an order id"),
    (REDACT, "orders_to_redact", [{"id": 299938}], "orders_to_redact[0] is not an order id"),
    (REDACT, "orders_to_redact", "299938", "orders_to_redact is not a list"),
    (DATA_REQUEST, "data_request", 9999, "data_request is not an object"),
])
def test_garbled_privacy_bodies_are_refused_with_a_reason(name, field, value, reason):
    # given
    payload = _edited(name, **{field: value})
    # when / then
    assert reason in _refusal(payload, topic_of(name, "shopify"))


def test_privacy_request_without_orders_names_none():
    # given a customer who never ordered
    payload = _edited(REDACT, orders_to_redact=[])
    # when / then
    assert _deliver(payload, "customers/redact").order_ids == ()


@pytest.mark.parametrize(("name", "expected"), [
    (SUBSCRIBED, ConsentChanged(Contact(email="olena.kovalenko@example.com.ua", customer_id="603851970716743442"),
                                accepts=True, occurred_at=datetime(2025, 11, 3, 7, 44, 10, tzinfo=UTC))),
    (UNSUBSCRIBED, ConsentChanged(Contact(email="example@email.com", customer_id="603851970716743426"),
                                  accepts=False, occurred_at=datetime(2025, 11, 8, 15, 15, tzinfo=UTC))),
    (NEVER_CHOSE, ConsentChanged(Contact(email="bob@biller.com", customer_id="706405506930370084"),
                                 accepts=False, occurred_at=TRIGGERED_AT)),
], ids=["subscribed", "unsubscribed", "never_chose_so_trigger_time"])
def test_consent_change_names_the_contact_the_answer_and_when(name, expected):
    # given / when
    event = _deliver(name)
    # then
    assert event == expected


@pytest.mark.parametrize(("state", "accepts"), [
    ("subscribed", True), ("not_subscribed", False), ("unsubscribed", False), ("pending", False),
    ("redacted", False), ("invalid", False), ("SUBSCRIBED", True),
])
def test_only_subscribed_is_consent_and_an_unconfirmed_double_opt_in_is_not(state, accepts):
    # given
    payload = _edited(SUBSCRIBED, email_marketing_consent={"state": state, "opt_in_level": "confirmed_opt_in",
                                                           "consent_updated_at": "2025-11-03T09:44:10+02:00"})
    # when / then
    assert _deliver(payload, "customers_email_marketing_consent/update").accepts is accepts


@pytest.mark.parametrize("consent", [
    {"state": "opted_in"}, {"state": None}, {"state": ""}, {"state": 1}, {}, None,
], ids=["unknown_word", "null", "empty", "number", "no_state", "no_consent_object"])
def test_unknown_consent_state_is_refused(consent):
    # given
    payload = _edited(SUBSCRIBED, email_marketing_consent=consent)
    # when
    reason = _refusal(payload, "customers_email_marketing_consent/update")
    # then a person looks at it; we never guess a yes
    assert "unknown email marketing consent state" in reason


def test_garbled_consent_object_is_refused():
    # given / when / then
    assert "email_marketing_consent is not an object" in _refusal(
        _edited(SUBSCRIBED, email_marketing_consent="subscribed"), "customers_email_marketing_consent/update")


def test_consent_without_email_or_customer_id_is_refused():
    # given
    payload = _edited(UNSUBSCRIBED, email_address=None, customer_id=None)
    # when / then
    assert "names no customer" in _refusal(payload, "customers_email_marketing_consent/update")


def test_consent_of_a_customer_known_only_by_id_is_kept():
    # given a customer without an email address
    payload = _edited(UNSUBSCRIBED, email_address="")
    # when
    event = _deliver(payload, "customers_email_marketing_consent/update")
    # then
    assert event.contact == Contact(customer_id="603851970716743426")


def test_consent_without_any_time_is_ordered_now():
    # given no consent_updated_at and a proxy that stripped X-Shopify-Triggered-At
    before = datetime.now(UTC)
    # when
    event = _deliver(NEVER_CHOSE, overrides={"X-Shopify-Triggered-At": None})
    # then
    assert before <= event.occurred_at <= datetime.now(UTC)
