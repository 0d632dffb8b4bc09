"""Reconciliation reads reshaped into webhook bodies (``connectors.shopify_sync``): each GraphQL node
goes through the connector's own normalizer and must describe the cart or order exactly as the
webhook of the same record does."""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bridge.model import CartConverted, CartObserved, Envelope
from connectors import shopify_sync
from connectors.base import CallOutcome, ChangePage
from connectors.shopify import CONNECTOR
from tests.support.fixtures import load_fixture

MONEY = "presentmentMoney"


def normalize(topic: str, payload: dict):
    envelope = Envelope(platform="shopify", shop_key="demo.myshopify.com", topic=topic, delivery_key="sync:test")
    return CONNECTOR.normalize(envelope, json.loads(json.dumps(payload)))    # as stored: JSON round trip


def money(amount: str, currency: str) -> dict:
    return {MONEY: {"amount": amount, "currencyCode": currency}}


def checkout_node(**overrides) -> dict:
    """The AbandonedCheckout GraphQL shows for the checkout of checkouts_update__multi_currency.json."""
    line = {"title": "iPod Nano - 8 Go", "variantTitle": "Rose", "quantity": 1, "sku": "IPOD2008PINK",
            "originalUnitPriceSet": money("183.00", "EUR"), "product": {"id": "gid://shopify/Product/632910392"},
            "variant": {"id": "gid://shopify/ProductVariant/808950810"}, "image": None}
    node = {"id": "gid://shopify/AbandonedCheckout/981820079255243537",
            "abandonedCheckoutUrl": "https://checkout.local/548380009/checkouts/1a2b3c4d5e6f7a8b/recover?key=eurokey",
            "createdAt": "2025-11-07T10:00:00Z", "updatedAt": "2025-11-07T10:07:45Z", "completedAt": None,
            "customer": {"id": "gid://shopify/Customer/603851970716743499", "firstName": "Marie", "locale": "fr",
                         "defaultEmailAddress": {"emailAddress": "marie.dubois@example.fr",
                                                 "marketingState": "SUBSCRIBED"},
                         "defaultPhoneNumber": None},
            "billingAddress": {"firstName": "Bob", "countryCodeV2": "US"},
            "shippingAddress": {"firstName": "Steve", "countryCodeV2": "US"},
            "subtotalPriceSet": money("366.00", "EUR"), "totalPriceSet": money("387.96", "EUR"),
            "lineItems": {"nodes": [line, dict(line)]}}
    node.update(overrides)
    return node


def order_node(**overrides) -> dict:
    """The Order GraphQL shows for the order of orders_create__multi_currency.json."""
    node = {"id": "gid://shopify/Order/820982911946154601", "name": "#1001", "email": "marie.dubois@example.fr",
            "createdAt": "2025-11-08T09:30:00Z", "processedAt": "2025-11-08T09:29:58Z",
            "updatedAt": "2025-11-08T09:30:01Z", "cancelledAt": None,
            "customer": {"id": "gid://shopify/Customer/603851970716743499"},
            "totalPriceSet": money("387.96", "EUR"), "discountCodes": []}
    node.update(overrides)
    return node


def webhook(name: str) -> dict:
    return json.loads(load_fixture("shopify", name))


# --- checkouts ------------------------------------------------------------------------------------

def test_a_read_back_checkout_describes_the_cart_exactly_as_its_webhook_does():
    # given the webhook of a checkout and the same checkout read back through GraphQL
    from_webhook = normalize("checkouts/update", webhook("checkouts_update__multi_currency.json"))
    # when the node is reshaped and normalized
    from_sync = normalize("checkouts/update", shopify_sync.checkout_payload(checkout_node()))
    # then both are the same observation: only the cart token is not in GraphQL
    assert isinstance(from_sync, CartObserved) and isinstance(from_webhook, CartObserved)
    assert from_sync.snapshot == dataclasses.replace(from_webhook.snapshot, cart_token=None)
    snapshot = from_sync.snapshot
    assert (snapshot.external_id, snapshot.contact.email, snapshot.contact.first_name, snapshot.contact.customer_id) \
        == ("1a2b3c4d5e6f7a8b", "marie.dubois@example.fr", "Marie", "603851970716743499")
    assert (snapshot.currency, str(snapshot.total), snapshot.accepts_marketing, snapshot.country) \
        == ("EUR", "387.96", True, "US")
    assert [(i.title, i.variant_title, str(i.unit_price), i.product_id) for i in snapshot.line_items] \
        == [("iPod Nano - 8 Go", "Rose", "183.00", "632910392")] * 2


def test_a_completed_checkout_read_back_converts_the_cart_like_the_webhook():
    # given a checkout GraphQL shows as completed
    node = checkout_node(abandonedCheckoutUrl="https://checkout.local/548380009/checkouts/123123123/recover?key=k",
                         completedAt="2022-01-01T15:15:00Z")
    # when it is normalized
    event = normalize("checkouts/update", shopify_sync.checkout_payload(node))
    # then the cart is converted under the checkout's own reference, as checkouts_update__completed does
    assert isinstance(event, CartConverted)
    assert (event.order.order_id, event.order.checkout_ref, event.order.placed_at) \
        == ("checkout:123123123", "123123123", datetime(2022, 1, 1, 15, 15, tzinfo=UTC))


@pytest.mark.parametrize("state, accepts", [("SUBSCRIBED", True), ("UNSUBSCRIBED", False),
                                            ("NOT_SUBSCRIBED", False), ("PENDING", None), ("INVALID", None)])
def test_the_customers_email_marketing_state_becomes_the_buyers_consent_only_when_it_is_known(state, accepts):
    # given a checkout whose customer is in this email marketing state
    customer = checkout_node()["customer"] | {"defaultEmailAddress": {"emailAddress": "a@example.com",
                                                                      "marketingState": state}}
    # when it is read back
    event = normalize("checkouts/update", shopify_sync.checkout_payload(checkout_node(customer=customer)))
    # then a pending or invalid state says nothing
    assert event.snapshot.accepts_marketing is accepts


def test_a_checkout_without_a_customer_is_still_a_cart_nobody_can_be_reminded_of():
    # given a checkout created by an app, without a customer
    node = checkout_node(customer=None, billingAddress=None, shippingAddress=None)
    # when it is read back
    event = normalize("checkouts/update", shopify_sync.checkout_payload(node))
    # then the cart is observed without any contact
    assert isinstance(event, CartObserved)
    assert (event.snapshot.contact.email, event.snapshot.contact.customer_id, event.snapshot.country) == (None,) * 3


@pytest.mark.parametrize("url, token, cart_token", [
    ("https://shop.example/548380009/checkouts/1a2b3c/recover?key=k", "1a2b3c", None),
    ("https://demo.myshopify.com/1/checkouts/abc/recover", "abc", None),
    # checkout extensibility: the segment is the cart token, not the checkout token webhooks carry
    ("https://demo.myshopify.com/59026964593/checkouts/ac/Z2NwLXVzLWVhc3Qx/recover?key=k&locale=en-US",
     "cart:Z2NwLXVzLWVhc3Qx", "Z2NwLXVzLWVhc3Qx"),
    ("https://demo.myshopify.com/cart", None, None), ("", None, None), (None, None, None),
])
def test_a_checkout_is_keyed_by_its_token_or_else_by_its_cart_token(url, token, cart_token):
    payload = shopify_sync.checkout_payload(checkout_node(abandonedCheckoutUrl=url))
    assert ((payload or {}).get("token"), (payload or {}).get("cart_token")) == (token, cart_token)


# --- orders ---------------------------------------------------------------------------------------

def test_a_read_back_order_carries_what_the_webhook_carries_but_the_tokens():
    # given the webhook of an order and the same order read back through GraphQL
    from_webhook = normalize("orders/create", webhook("orders_create__multi_currency.json"))
    # when the node is reshaped and normalized
    from_sync = normalize("orders/create", shopify_sync.order_payload(order_node()))
    # then it is the same order in the buyer's currency; GraphQL has no checkout or cart token
    assert isinstance(from_sync, CartConverted)
    assert from_sync.order == dataclasses.replace(from_webhook.order, checkout_ref=None, cart_token=None)
    assert (from_sync.order.order_id, str(from_sync.order.total), from_sync.order.currency) \
        == ("820982911946154601", "387.96", "EUR")


def test_an_orders_discount_codes_and_customer_come_through():
    # given an order that used one of our codes, by a known customer, without an email
    node = order_node(discountCodes=["CB-7Q2X"], email=None, customer={"id": "gid://shopify/Customer/42"})
    # when it is read back
    order = normalize("orders/create", shopify_sync.order_payload(node)).order
    # then the code and the customer id are there for the core to match
    assert (order.discount_codes, order.customer_id, order.email) == (("CB-7Q2X",), "42", None)


# --- pages ----------------------------------------------------------------------------------------

def test_a_page_is_oldest_first_keyed_by_record_and_version_and_counts_what_it_skipped():
    # given a connection page: two checkouts out of order and one whose URL names no token at all
    later = checkout_node(id="gid://shopify/AbandonedCheckout/7", updatedAt="2026-11-20T12:00:00Z")
    earlier = checkout_node(id="gid://shopify/AbandonedCheckout/9", updatedAt="2026-11-20T11:00:00Z")
    tokenless = checkout_node(abandonedCheckoutUrl="https://demo.myshopify.com/cart")
    data = {"abandonedCheckouts": {"nodes": [later, earlier, tokenless],
                                   "pageInfo": {"hasNextPage": True, "endCursor": "c2"}},
            "abandonedCheckoutsCount": {"count": 3, "precision": "EXACT"}}
    # when it is read
    result = shopify_sync.KINDS["checkouts"].read(data)
    # then the page holds the two keyed checkouts, oldest first, and says where to go on
    page = result.data
    assert result.outcome == CallOutcome.DONE and isinstance(page, ChangePage)
    assert [item.key for item in page.items] == ["checkouts/update:9:2026-11-20T11:00:00Z",
                                                 "checkouts/update:7:2026-11-20T12:00:00Z"]
    assert {item.topic for item in page.items} == {"checkouts/update"}
    assert (page.next_cursor, page.total, page.skipped) == ("c2", 3, 1)


def test_the_last_page_has_no_cursor_and_an_inexact_count_is_no_total():
    data = {"orders": {"nodes": [order_node()], "pageInfo": {"hasNextPage": False, "endCursor": "c9"}},
            "ordersCount": {"count": 10000, "precision": "AT_LEAST"}}
    page = shopify_sync.KINDS["orders"].read(data).data
    assert (page.next_cursor, page.total, [item.key for item in page.items]) \
        == (None, None, ["orders/create:820982911946154601:2025-11-08T09:30:01Z"])


def test_the_search_term_names_the_moment_in_utc_to_the_second():
    since = datetime(2026, 11, 20, 12, 30, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert shopify_sync.updated_since(since) == "updated_at:>='2026-11-20T10:30:05Z'"
    with pytest.raises(ValueError):
        shopify_sync.updated_since(datetime(2026, 11, 20))


def test_every_document_stays_under_shopifys_single_query_cost_limit():
    assert shopify_sync.CHECKOUTS_COST <= 1000 and shopify_sync.ORDERS_COST <= 1000
