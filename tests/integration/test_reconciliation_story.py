"""No webhook missed for long: dropped webhooks, filled in by reconciliation, end to end.

Each story runs the real worker against a local platform API (the real ``shopifyapp`` and
``woocommerce`` client libraries over real HTTP): the platform has a cart and later an order,
but not one webhook reaches cartbridge. Reconciliation must deliver the reminder once, and
stop the sequence after the purchase nobody told us about. The health stories break the
platform's subscriptions the way the platforms do, and watch the worker mend them.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Delivery, OutboxEntry, ReminderStep, ShopSync
from bridge.rules import SequenceSettings, StepSetting
from bridge.runtime import Runtime
from bridge.services.install import connect_woocommerce, install_shopify
from bridge.services.shops import save_sequence
from bridge.worker import run
from connectors.base import TokenSet
from connectors.registry import CONNECTORS
from connectors.shopify_webhooks import TOPIC_ENUMS
from tests.conftest import SHOPIFY_SECRET, Clock, make_settings
from tests.servers.shopify_admin import ShopifyAdminServer
from tests.servers.woocommerce_api import WooCommerceTestServer
from tests.support.discounts import connect
from tests.support.fixtures import load_fixture
from tests.support.shops import NO_MANNERS

PUBLIC_URL = "https://cartbridge.test"      # the Shopify API accepts only https subscription addresses
SHOP = "story-shop.myshopify.com"
EMAIL = "anna@example.com"


@pytest.fixture
def story_runtime(database_url, tmp_path):
    """A runtime on the real clock (the local platforms stamp records with it), https public URL."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    runtime = Runtime.from_settings(make_settings(database_url, tmp_path, public_url=PUBLIC_URL), now=clock)
    runtime.clock = clock
    yield runtime
    runtime.close()


@pytest.fixture
def shopify(story_runtime):
    with ShopifyAdminServer(app_key="test-app", app_secret=SHOPIFY_SECRET) as server:
        # Shopify Plus's bucket: the story runs four syncs in seconds, where a real shop has
        # 15 minutes between them (a Standard bucket would throttle, correctly, and slowly).
        grant = server.add_shop(SHOP.split(".")[0], maximum_available=20000, restore_rate=1000)
        http = server.http_client(timeout=2.0)
        connect(story_runtime, http, timeout=2.0)
        server.grant_at_start = grant
        yield server
        http.close()


@pytest.fixture
def woo(story_runtime):
    with WooCommerceTestServer() as server:
        connect(story_runtime, None, timeout=2.0)
        yield server


def _plain_sequence(session, shop) -> None:
    """Reminders at 1 h, 24 h, 72 h without codes; manners off (they have their own tests)."""
    for name, value in NO_MANNERS.items():
        setattr(shop, name, value)
    save_sequence(session, shop, SequenceSettings(60, tuple(StepSetting(i, d) for i, d in
                                                            enumerate((60, 1440, 4320), 1))))


def _install_shopify(runtime, server, managed_by: str = "shopify") -> int:
    grant = server.grant_at_start
    with unit_of_work(runtime.sessions) as session:
        shop = install_shopify(session, runtime.box, domain=SHOP, tokens=TokenSet(grant.access_token),
                               scopes="read_orders,write_discounts,read_customers", now=runtime.now(),
                               managed_by=managed_by)
        _plain_sequence(session, shop)
        return shop.id


def _connect_woo(runtime, server) -> int:
    key = server.add_key()
    with unit_of_work(runtime.sessions) as session:
        shop = connect_woocommerce(session, runtime.box, url=server.url, consumer_key=key.consumer_key,
                                   consumer_secret=key.consumer_secret, now=runtime.now())
        _plain_sequence(session, shop)
        return shop.id


def _rows(runtime, table, *where):
    with unit_of_work(runtime.sessions) as session:
        order = table.id if hasattr(table, "id") else table.shop_id
        return list(session.scalars(select(table).where(*where).order_by(order)))


def _pass(runtime, **delta) -> None:
    if delta:
        runtime.clock.advance(**delta)
    run(runtime, once=True)


def test_shopify_a_checkout_and_an_order_never_delivered_by_webhook_are_reconciled(story_runtime, shopify):
    runtime = story_runtime
    # given an installed shop, and a customer who left a checkout 61 minutes ago: its webhook was lost
    _install_shopify(runtime, shopify)
    left = runtime.now() - timedelta(minutes=61)
    shopify.add_checkout(SHOP, email=EMAIL, first_name="Anna", created_at=left, updated_at=left)
    # when the worker runs (reconciliation is due at once after an install)
    _pass(runtime)
    # then the checkout came in through the inbox as a synced record, and the first reminder went out
    [delivery] = _rows(runtime, Delivery)
    assert delivery.delivery_key.startswith("sync:checkouts/update:") and delivery.meta["source"] == "sync"
    assert delivery.status == "processed"
    [message] = _rows(runtime, OutboxEntry)
    assert message.to_email == EMAIL and "Anna" in message.text
    # when the next sync reads the same checkout again (its window overlaps the last one)
    _pass(runtime, minutes=16)
    # then nothing is stored or sent twice
    assert len(_rows(runtime, Delivery)) == 1 and len(_rows(runtime, OutboxEntry)) == 1
    # when the customer buys, and the order webhook is lost too
    shopify.add_order(SHOP, email=EMAIL, created_at=runtime.now(), updated_at=runtime.now(), total="199.00")
    _pass(runtime, minutes=16)
    # then reconciliation found the order: the cart counts as recovered and its later steps stop
    [cart] = _rows(runtime, Cart)
    assert cart.state == "recovered"
    steps = {s.position: s.status for s in _rows(runtime, ReminderStep)}
    assert steps == {1: "sent", 2: "cancelled", 3: "cancelled"}
    # and days later, still just the one reminder
    _pass(runtime, days=4)
    assert len(_rows(runtime, OutboxEntry)) == 1


def test_woocommerce_a_pending_order_and_its_payment_never_delivered_are_reconciled(story_runtime, woo):
    runtime = story_runtime
    # given a connected store, and an unpaid order from 61 minutes ago whose webhook was lost
    _connect_woo(runtime, woo)
    order = json.loads(load_fixture("woocommerce", "order_updated__pending.json"))
    left = (runtime.now() - timedelta(minutes=61)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fields = {k: v for k, v in order.items() if k not in ("id", "status", "date_created", "date_modified")}
    fields.update(date_created_gmt=left, date_modified_gmt=left)
    placed = woo.add_order(status="pending", email=order["billing"]["email"], **fields)
    woo.drop_deliveries(True)               # nothing the store does reaches us by webhook
    # when the worker runs
    _pass(runtime)
    # then the order was read back and reminded once
    [message] = _rows(runtime, OutboxEntry)
    assert message.to_email == order["billing"]["email"] and "pay_for_order=true" in message.html
    _pass(runtime, minutes=16)
    assert len(_rows(runtime, OutboxEntry)) == 1
    # when the customer pays, unseen
    woo.update_order(placed["id"], modified_at=runtime.now(), status="processing",
                     date_paid_gmt=runtime.now().strftime("%Y-%m-%dT%H:%M:%S"))
    _pass(runtime, minutes=16)
    # then the sequence stopped: recovered, nothing more sent
    [cart] = _rows(runtime, Cart)
    assert cart.state == "recovered"
    _pass(runtime, days=4)
    assert len(_rows(runtime, OutboxEntry)) == 1


def test_woocommerce_a_webhook_disabled_after_failed_deliveries_is_switched_back_on(story_runtime, woo):
    runtime = story_runtime
    # given a connected store whose webhooks cartbridge registered on its first pass
    shop_id = _connect_woo(runtime, woo)
    _pass(runtime)
    ours = {hook["topic"]: hook for hook in woo.webhooks}
    assert set(ours) == {"order.created", "order.updated", "order.deleted"}
    assert {hook["delivery_url"] for hook in ours.values()} == {f"{PUBLIC_URL}/webhooks/woocommerce/{shop_id}"}
    # when our endpoint cannot be reached for a while and WooCommerce disables order.updated
    # (nothing answers at the test's public URL, so every delivery fails)
    placed = woo.add_order(status="pending", email=EMAIL)
    for _ in range(8):
        woo.deliver("order.updated", placed["id"])
    assert woo.webhook(ours["order.updated"]["id"])["status"] == "disabled"
    # when the health check is due again
    _pass(runtime, minutes=61)
    # then it is active again, and the merchant is told on the Settings page
    assert woo.webhook(ours["order.updated"]["id"])["status"] == "active"
    [sync] = _rows(runtime, ShopSync)
    assert "order.updated" in sync.health_note and "disabled" in sync.health_note
    assert len(woo.webhooks) == 3           # switched back on, not duplicated


def test_shopify_a_subscription_cartbridge_made_that_went_missing_is_recreated(story_runtime, shopify):
    runtime = story_runtime
    # given a shop installed by the authorization-code flow: cartbridge keeps its subscriptions
    _install_shopify(runtime, shopify, managed_by="cartbridge")
    _pass(runtime)
    wanted = {TOPIC_ENUMS[topic] for topic in CONNECTORS["shopify"].webhook_topics}
    assert {sub.topic for sub in shopify.subscriptions(SHOP)} == wanted
    assert {sub.uri for sub in shopify.subscriptions(SHOP)} == {f"{PUBLIC_URL}/webhooks/shopify"}
    # when Shopify removes one after repeated failed deliveries
    assert shopify.drop_subscription(SHOP, "orders/create") == 1
    _pass(runtime, minutes=61)
    # then the health check recreated it
    assert {sub.topic for sub in shopify.subscriptions(SHOP)} == wanted
    [sync] = _rows(runtime, ShopSync)
    assert "recreated" in sync.health_note


def test_shopify_a_checkout_read_back_by_its_cart_token_is_the_cart_its_webhook_made(story_runtime, shopify):
    runtime = story_runtime
    from tests.support.fixtures import shopify_headers
    from tests.support.shops import checkout
    from bridge.app import create_app
    # given checkout extensibility: the webhook carries the checkout token, the read-back only the cart token
    _install_shopify(runtime, shopify)
    left = runtime.now() - timedelta(minutes=61)
    body = checkout("checkout-token-1", left, email=EMAIL, cart_token="c1-token")
    raw = json.dumps(body).encode()
    client = create_app({"TESTING": True}, runtime=runtime).test_client()
    headers = shopify_headers("checkouts/create", raw, SHOPIFY_SECRET,
                              {"X-Shopify-Webhook-Id": "w-1", "X-Shopify-Shop-Domain": SHOP})
    assert client.post("/webhooks/shopify", data=raw, headers=headers).status_code == 200
    shopify.add_checkout(SHOP, email=EMAIL, created_at=left, updated_at=left + timedelta(seconds=30),
                         url=f"https://{SHOP}/1/checkouts/ac/c1-token/recover?key=k")
    # when the worker applies the webhook and reconciliation reads the same checkout back
    _pass(runtime)
    # then there is one cart (the webhook's), updated by the read-back, and one reminder
    [cart] = _rows(runtime, Cart)
    assert cart.external_id == "checkout-token-1" and cart.cart_token == "c1-token"
    assert len(_rows(runtime, Delivery)) == 2 and len(_rows(runtime, OutboxEntry)) == 1


def test_woocommerce_a_pass_that_saw_a_change_made_while_it_was_paging_keeps_its_cursor(story_runtime, woo):
    from bridge.services.sync import sync_shop
    runtime = story_runtime
    # given a connected store with one order changed before the pass and one changed as it runs
    shop_id = _connect_woo(runtime, woo)
    before = (runtime.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    woo.add_order(status="pending", email=EMAIL, date_created_gmt=before, date_modified_gmt=before)
    now_stamp = runtime.now().strftime("%Y-%m-%dT%H:%M:%S")
    woo.add_order(status="pending", email="boris@example.com", date_created_gmt=now_stamp,
                  date_modified_gmt=now_stamp)
    access = runtime.store_access()
    # when a pass reads them
    result = sync_shop(runtime.sessions, access, CONNECTORS, shop_id, runtime.now())
    # then both were stored, but the cursor was not moved past a window that was still changing
    assert (result.stored, result.unsettled) == (2, {"orders"})
    [sync] = _rows(runtime, ShopSync)
    assert "orders" not in (sync.cursors or {})
    # and a quiet pass later moves it on
    runtime.clock.advance(minutes=16)
    quiet = sync_shop(runtime.sessions, access, CONNECTORS, shop_id, runtime.now())
    [sync] = _rows(runtime, ShopSync)
    assert quiet.stored == 0 and sync.cursors["orders"] == runtime.now().isoformat()
