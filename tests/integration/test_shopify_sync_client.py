"""Reconciliation reads and webhook subscriptions through the real ``shopifyapp`` library against the
local Admin API server (``tests/servers/shopify_admin.py``). No database: every record read back
goes through the connector's own normalizer, as the worker's inbox pass will run it."""
from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from graphql import parse
from shopify_app import admin_graphql_request

from bridge.model import CartConverted, CartObserved, Envelope
from connectors import shopify_sync
from connectors.base import CallOutcome, PlatformHttp, StoreCredentials, WebhookInfo
from connectors.shopify import CONNECTOR
from tests.servers.shopify_admin import ShopifyAdminServer, _requested_cost
from tests.servers.shopify_checkouts import CheckoutLine
from tests.servers.shopify_search import search_terms

APP_KEY, APP_SECRET = "cartbridge-test-app", "shpss_sync_client_test_secret_0123456789"
SINCE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HOOKS = "https://bridge.example/webhooks/shopify"


@pytest.fixture
def server():
    with ShopifyAdminServer(app_key=APP_KEY, app_secret=APP_SECRET) as srv:
        yield srv


@pytest.fixture
def shop(server):
    return server.add_shop(f"shop-{secrets.token_hex(4)}")     # a fresh domain: the bucket estimate is per domain


@pytest.fixture
def http(server):
    with server.http_client(timeout=2.0) as client:
        yield PlatformHttp(shopify=client)


@pytest.fixture
def client(shop, http):
    return CONNECTOR.store_client(StoreCredentials(shop.domain, shop.access_token), http)


def read_all(client, kind: str, since: datetime = SINCE):
    """Every page of ``changes``: (items, pages)."""
    items, pages, cursor = [], [], None
    while True:
        result = client.changes(kind, since, cursor)
        assert result.outcome == CallOutcome.DONE, result.error
        pages.append(result.data)
        items.extend(result.data.items)
        cursor = result.data.next_cursor
        if cursor is None:
            return items, pages


def normalize(item):
    envelope = Envelope(platform="shopify", shop_key="x.myshopify.com", topic=item.topic,
                        delivery_key=f"sync:{item.key}")
    return CONNECTOR.normalize(envelope, json.loads(json.dumps(item.payload)))


# --- abandoned checkouts --------------------------------------------------------------------------

def test_checkouts_changed_since_a_moment_arrive_over_several_pages_each_once(server, shop, client):
    # given 23 checkouts updated after the moment and 4 updated before it
    fresh = [server.add_checkout(shop.domain, created_at=SINCE - timedelta(days=1),
                                 updated_at=SINCE + timedelta(minutes=n)) for n in range(23)]
    for n in range(4):
        server.add_checkout(shop.domain, updated_at=SINCE - timedelta(minutes=n + 1))
    # when every page is read
    items, pages = read_all(client, "checkouts")
    # then each fresh checkout came exactly once, in pages of ten, with the total on the first page
    assert sorted(item.payload["token"] for item in items) == sorted(c.token for c in fresh)
    assert [len(page.items) for page in pages] == [10, 10, 3]
    assert (pages[0].total, pages[1].total) == (23, None)
    assert all(page.skipped == 0 for page in pages)
    # and the server was asked with Shopify's search syntax
    [term] = search_terms(server.searches(shop.domain)[0])
    assert (term.field, term.comparator, term.value) == ("updated_at", ":>=", "2026-11-20T10:00:00Z")


def test_a_checkout_updated_after_the_moment_is_read_again(server, shop, client):
    # given a checkout last touched before the moment
    old = server.add_checkout(shop.domain, updated_at=SINCE - timedelta(hours=2))
    assert read_all(client, "checkouts")[0] == []
    # when the buyer comes back and changes it
    server.update_checkout(shop.domain, old.id, updated_at=SINCE + timedelta(hours=1),
                           lines=(CheckoutLine("Wool socks", 3, "7.50"),))
    # then it is read with its new version key and content
    [item] = read_all(client, "checkouts")[0]
    assert item.key == f"checkouts/update:{old.number}:2026-11-20T11:00:00Z"
    assert [(line["title"], line["quantity"], line["price"]) for line in item.payload["line_items"]] \
        == [("Wool socks", 3, "7.50")]


def test_a_read_back_checkout_is_a_cart_the_normalizer_accepts_with_everything_a_reminder_needs(server, shop, client):
    # given a checkout in euros with two lines, a known customer who subscribed, and a billing country
    lines = (CheckoutLine("Ліхтарик", 2, "12.50", "Синій", "LAMP-1", image_url="https://cdn.example/lamp.png"),
             CheckoutLine("Батарейки", 1, "3.00", None, None, product_id=None, variant_id=None))
    checkout = server.add_checkout(shop.domain, email="Olena@Example.com", first_name="Олена", customer_id=42,
                                   locale="uk", marketing="SUBSCRIBED", lines=lines, currency="EUR",
                                   country="UA", updated_at=SINCE + timedelta(minutes=5))
    # when it is read back and normalized
    [item] = read_all(client, "checkouts")[0]
    event = normalize(item)
    # then the cart is what the checkout webhook would have said
    assert isinstance(event, CartObserved)
    snap = event.snapshot
    assert (snap.external_id, snap.contact.email, snap.contact.first_name, snap.contact.customer_id) \
        == (checkout.token, "olena@example.com", "Олена", "42")
    assert (snap.currency, str(snap.subtotal), str(snap.total), snap.locale, snap.country, snap.accepts_marketing) \
        == ("EUR", "28.00", "28.00", "uk", "UA", True)
    assert snap.recovery_url == checkout.url and snap.updated_at == SINCE + timedelta(minutes=5)
    assert [(i.title, i.variant_title, i.quantity, str(i.unit_price), i.sku, i.product_id, i.image_url)
            for i in snap.line_items] == [("Ліхтарик", "Синій", 2, "12.50", "LAMP-1", "632910392",
                                           "https://cdn.example/lamp.png"),
                                          ("Батарейки", None, 1, "3.00", None, None, None)]


def test_a_checkout_completed_without_a_webhook_converts_its_cart(server, shop, client):
    # given a checkout the buyer paid for after the moment
    checkout = server.add_checkout(shop.domain, updated_at=SINCE - timedelta(hours=1))
    server.complete_checkout(shop.domain, checkout.id, at=SINCE + timedelta(minutes=30))
    # when it is read back
    [item] = read_all(client, "checkouts")[0]
    # then it converts the cart
    event = normalize(item)
    assert isinstance(event, CartConverted)
    assert (event.order.checkout_ref, event.order.placed_at) == (checkout.token, SINCE + timedelta(minutes=30))


def test_a_checkout_whose_url_names_only_the_cart_token_is_keyed_by_that_cart_token(server, shop, client):
    # given a checkout extensibility recovery URL (the cart token) next to a classic one
    server.add_checkout(shop.domain, updated_at=SINCE + timedelta(minutes=1),
                        url=f"https://{shop.domain}/59026964593/checkouts/ac/Z2NwLXVzLWVhc3Qx/recover?key=k")
    classic = server.add_checkout(shop.domain, updated_at=SINCE + timedelta(minutes=2))
    # when they are read
    items, [page] = read_all(client, "checkouts")
    # then both are items: the classic one by its token, the other by its cart token
    assert [(item.payload["token"], item.payload["cart_token"]) for item in items] == [
        ("cart:Z2NwLXVzLWVhc3Qx", "Z2NwLXVzLWVhc3Qx"), (classic.token, None)]
    assert (page.skipped, page.total) == (0, 2)


def test_a_read_without_read_orders_is_refused_and_an_expired_token_asks_for_a_refresh(server, shop, client):
    server.revoke_scope(shop.domain, "read_orders")
    refused = client.changes("checkouts", SINCE)
    assert refused.outcome == CallOutcome.REFUSED and "read_orders" in refused.error
    server.expire_token(shop.domain)
    assert client.changes("orders", SINCE).outcome == CallOutcome.AUTH


def test_an_unknown_kind_is_refused_without_a_request(server, client):
    result = client.changes("carts", SINCE)
    assert (result.outcome, result.calls, server.count("abandonedCheckouts")) == (CallOutcome.REFUSED, 0, 0)


def test_a_query_above_shopifys_cost_limit_is_refused_by_the_server(server, shop, http):
    # given a page size our own documents stay well below
    query = ("{ abandonedCheckouts(first: 50) { nodes { id lineItems(first: 50) { nodes { title "
             "originalUnitPriceSet { presentmentMoney { amount } } } } } } }")
    # when it is sent anyway
    result = admin_graphql_request(query, shop=shop.domain.removesuffix(".myshopify.com"),
                                   access_token=shop.access_token, api_version=http.api_version, max_retries=0,
                                   http_client=http.shopify)
    # then Shopify's single-query limit refuses it
    body = json.loads(result.http_logs[-1].res.body)
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


@pytest.mark.parametrize("kind", ["checkouts", "orders"])
def test_our_documents_cost_what_the_client_budgets_for_them(kind):
    # the pacing estimate is the cost the server (like Shopify) charges for the first, counted page
    spec = shopify_sync.KINDS[kind]
    operation = parse(spec.document(None)).definitions[0]
    assert _requested_cost(operation, spec.variables(SINCE, None)) == spec.cost <= 1000
    assert _requested_cost(parse(spec.document("c")).definitions[0], spec.variables(SINCE, "c")) == spec.cost - 1


def test_abandoned_checkouts_cannot_be_sorted_by_update_time(server, shop, http):
    # AbandonedCheckoutSortKeys has no UPDATED_AT: the reason checkout pages come by id
    result = admin_graphql_request("{ abandonedCheckouts(first: 1, sortKey: UPDATED_AT) { nodes { id } } }",
                                   shop=shop.domain.removesuffix(".myshopify.com"), access_token=shop.access_token,
                                   api_version=http.api_version, max_retries=0, http_client=http.shopify)
    body = json.loads(result.http_logs[-1].res.body)
    assert "UPDATED_AT" in body["errors"][0]["message"] and "data" not in body


# --- orders ---------------------------------------------------------------------------------------

def test_orders_changed_since_a_moment_arrive_oldest_first_across_pages(server, shop, client):
    # given 60 orders updated after the moment (stored newest first) and 2 before it
    made = [server.add_order(shop.domain, email=f"buyer{n}@example.com", created_at=SINCE - timedelta(days=2),
                             updated_at=SINCE + timedelta(minutes=60 - n)) for n in range(60)]
    for n in range(2):
        server.add_order(shop.domain, created_at=SINCE - timedelta(days=3), updated_at=SINCE - timedelta(hours=n + 1))
    # when every page is read
    items, pages = read_all(client, "orders")
    # then all 60 came, each once, oldest update first, 50 then 10
    assert [len(page.items) for page in pages] == [50, 10] and pages[0].total == 60
    moments = [item.payload["updated_at"] for item in items]
    assert moments == sorted(moments) and len(set(item.key for item in items)) == 60
    assert {item.payload["id"] for item in items} == {int(o.id.rpartition("/")[2]) for o in made}


def test_an_order_read_back_converts_by_email_customer_and_code(server, shop, client):
    # given an order paid in euros with one of our codes, no checkout token known
    order = server.add_order(shop.domain, email="Olena@Example.com", customer_id=42, financial="PAID",
                             created_at=SINCE + timedelta(minutes=1), total="41.90", currency="EUR",
                             discount_codes=("CB-7Q2X",))
    # when it is read back and normalized
    [item] = read_all(client, "orders")[0]
    event = normalize(item)
    # then it is an order the core can match by contact and attribute to the code
    assert isinstance(event, CartConverted) and item.topic == "orders/create"
    info = event.order
    assert (info.order_id, info.email, info.customer_id, str(info.total), info.currency, info.discount_codes) \
        == (order.id.rpartition("/")[2], "olena@example.com", "42", "41.90", "EUR", ("CB-7Q2X",))
    assert (info.checkout_ref, info.cart_token, info.placed_at) == (None, None, SINCE + timedelta(minutes=1))


def test_an_order_changed_later_is_read_again_with_a_new_key(server, shop, client):
    order = server.add_order(shop.domain, created_at=SINCE - timedelta(days=1), updated_at=SINCE - timedelta(hours=1))
    assert read_all(client, "orders")[0] == []
    server.update_order(shop.domain, order.id, financial="PAID", updated_at=SINCE + timedelta(hours=2))
    [item] = read_all(client, "orders")[0]
    assert item.key == f"orders/create:{order.id.rpartition('/')[2]}:2026-11-20T12:00:00Z"


# --- webhook subscriptions ------------------------------------------------------------------------

def test_every_topic_we_need_can_be_subscribed_and_is_listed_in_our_spelling(server, shop, client):
    # given a shop without subscriptions
    assert client.list_webhooks().data == ()
    # when every topic of the connector is subscribed
    created = {topic: client.create_webhook(topic, HOOKS, secret=None) for topic in sorted(CONNECTOR.webhook_topics)}
    # then each one exists on the platform and the list shows them as we name them
    assert {r.outcome for r in created.values()} == {CallOutcome.DONE}
    listed = client.list_webhooks()
    assert listed.outcome == CallOutcome.DONE and listed.calls == 1
    assert set(listed.data) == {WebhookInfo(r.platform_id, topic, HOOKS) for topic, r in created.items()}
    assert {s.topic for s in server.subscriptions(shop.domain)} == {
        "CHECKOUTS_CREATE", "CHECKOUTS_UPDATE", "CHECKOUTS_DELETE", "ORDERS_CREATE", "ORDERS_PAID",
        "APP_UNINSTALLED", "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE"}
    assert {s.api_version for s in server.subscriptions(shop.domain)} == {"2026-10"}


def test_a_second_subscription_to_the_same_address_exists_already(server, shop, client):
    first = client.create_webhook("orders/create", HOOKS, secret=None)
    again = client.create_webhook("orders/create", HOOKS, secret="ignored")
    assert (first.outcome, again.outcome) == (CallOutcome.DONE, CallOutcome.EXISTS)
    assert "already been taken" in again.error and len(server.subscriptions(shop.domain)) == 1


def test_subscriptions_shopify_refuses_are_refused(server, shop, client):
    plain_http = client.create_webhook("orders/create", "http://bridge.example/webhooks/shopify", secret=None)
    compliance = client.create_webhook("shop/redact", HOOKS, secret=None)
    assert plain_http.outcome == CallOutcome.REFUSED and "not supported" in plain_http.error
    assert (compliance.outcome, compliance.calls) == (CallOutcome.REFUSED, 0)
    assert server.subscriptions(shop.domain) == []


def test_a_subscription_shopify_dropped_is_gone_from_the_list(server, shop, client):
    # given two subscriptions, one of which failed 8 deliveries in a row
    client.create_webhook("checkouts/update", HOOKS, secret=None)
    kept = client.create_webhook("orders/create", HOOKS, secret=None)
    assert server.drop_subscription(shop.domain, "checkouts/update") == 1
    # when the subscriptions are listed
    listed = client.list_webhooks().data
    # then only the other one is there
    assert listed == (WebhookInfo(kept.platform_id, "orders/create", HOOKS),)


def test_a_deleted_subscription_is_absent_the_second_time(server, shop, client):
    made = client.create_webhook("app/uninstalled", HOOKS, secret=None)
    first, again = client.delete_webhook(made.platform_id), client.delete_webhook(made.platform_id)
    assert (first.outcome, first.platform_id, again.outcome) == (CallOutcome.DONE, made.platform_id, CallOutcome.ABSENT)
    assert server.subscriptions(shop.domain) == []


def test_enabling_a_shopify_subscription_is_a_no_op(server, client):
    result = client.enable_webhook("gid://shopify/WebhookSubscription/1")
    assert (result.outcome, result.calls, server.count("webhookSubscriptions")) == (CallOutcome.DONE, 0, 0)


def test_many_subscriptions_are_listed_over_several_pages(server, shop, client):
    for n in range(55):
        assert client.create_webhook("orders/paid", f"{HOOKS}?n={n}", secret=None).outcome == CallOutcome.DONE
    listed = client.list_webhooks()
    assert (listed.outcome, len(listed.data), listed.calls) == (CallOutcome.DONE, 55, 2)
    assert len({info.platform_id for info in listed.data}) == 55


def test_an_unanswered_list_is_retried_later_and_an_unanswered_create_may_have_happened(server, shop, client):
    server.fail_next(503)
    assert client.list_webhooks().outcome == CallOutcome.RETRY
    server.fail_next(502)
    assert client.create_webhook("orders/create", HOOKS, secret=None).outcome == CallOutcome.UNKNOWN
    server.delay_next(1.0)
    with server.http_client(timeout=0.3) as impatient:
        late = CONNECTOR.store_client(StoreCredentials(shop.domain, shop.access_token), PlatformHttp(impatient))
        assert late.create_webhook("orders/paid", HOOKS, secret=None).outcome == CallOutcome.UNKNOWN
    # the late create did happen: listing first is what keeps it from being made twice
    assert [info.topic for info in client.list_webhooks().data] == ["orders/paid"]
