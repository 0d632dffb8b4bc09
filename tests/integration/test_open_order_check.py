"""The "other open order" check end to end on each database: signed webhooks in, the real
worker, the real ``shopifyapp`` / ``woocommerce`` clients over HTTP to the local APIs."""
from __future__ import annotations

import json

import httpx
import pytest

from bridge.services.shop_status import release_held
from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop
from bridge.worker import run
from tests.conftest import SHOPIFY_SECRET
from tests.servers.shopify_admin import ShopifyAdminServer
from tests.servers.woocommerce_api import WooCommerceTestServer
from tests.support.discounts import add_shop_with_codes, connect, outbox, steps
from tests.support.fixtures import load_fixture
from tests.support.shops import SHOP_DOMAIN, WOO_SECRET, checkout, post_shopify, post_woo, set_manners


@pytest.fixture
def shopify(runtime):
    with ShopifyAdminServer(app_key="test-app", app_secret=SHOPIFY_SECRET) as server:
        server.grant_at_start = server.add_shop(SHOP_DOMAIN.split(".")[0])
        http = server.http_client(timeout=0.5)
        connect(runtime, http)
        yield server
        http.close()


@pytest.fixture
def woo(runtime):
    with WooCommerceTestServer() as server, httpx.Client() as unused_shopify_client:
        connect(runtime, unused_shopify_client)
        yield server


def _shopify_shop(runtime, api) -> int:
    shop_id = add_shop_with_codes(runtime, platform="shopify", domain=SHOP_DOMAIN,
                                  access_token=api.grant_at_start.access_token)
    set_manners(runtime, shop_id, open_order_check=True)
    return shop_id


def _leave_and_wait_an_hour(runtime, client, clock, token: str = "tok-1") -> None:
    post_shopify(client, "checkouts/create", checkout(token, clock()), webhook_id=f"w-{token}")
    clock.advance(minutes=61)
    run(runtime, once=True)


def test_a_customer_with_an_unpaid_order_is_not_reminded(runtime, client, clock, shopify):
    # given a shop with the check on, and the customer (id 7001) has another order still unpaid
    _shopify_shop(runtime, shopify)
    shopify.add_order(SHOP_DOMAIN, email="anna@example.com", customer_id=7001, financial="PENDING")
    # when their abandoned checkout's first step comes due
    _leave_and_wait_an_hour(runtime, client, clock)
    # then nothing is sent and the step says which order stopped it
    assert outbox(runtime) == []
    step = steps(runtime)[1]
    assert step.status == "skipped"
    assert step.reason.startswith("another order of this customer is still open: #")


def test_a_customer_whose_orders_are_paid_and_fulfilled_is_reminded(runtime, client, clock, shopify):
    # given only a paid, fulfilled order of the same customer
    _shopify_shop(runtime, shopify)
    shopify.add_order(SHOP_DOMAIN, email="anna@example.com", customer_id=7001, financial="PAID",
                      fulfillment="FULFILLED")
    # when the first step comes due
    _leave_and_wait_an_hour(runtime, client, clock)
    # then the reminder goes out
    assert [m.to_email for m in outbox(runtime)] == ["anna@example.com"]


def test_when_shopify_cannot_answer_the_step_waits_and_then_goes(runtime, client, clock, shopify):
    # given a shop with the check on and Shopify failing the next request
    _shopify_shop(runtime, shopify)
    shopify.fail_next(503)
    # when the step comes due
    _leave_and_wait_an_hour(runtime, client, clock)
    # then it was not sent blind: it waits with the reason
    step = steps(runtime)[1]
    assert (step.status, outbox(runtime)) == ("pending", [])
    assert step.reason.startswith("waiting: could not check the customer's other orders")
    # and once Shopify answers again, it goes out
    clock.advance(hours=1)
    run(runtime, once=True)
    assert len(outbox(runtime)) == 1


def test_a_missing_read_orders_scope_holds_the_step_until_released(runtime, client, clock, shopify):
    # given a shop whose app lost read_orders
    shop_id = _shopify_shop(runtime, shopify)
    shopify.revoke_scope(SHOP_DOMAIN, "read_orders")
    # when the step comes due
    _leave_and_wait_an_hour(runtime, client, clock)
    # then it is held with Shopify's message, for the merchant to see
    step = steps(runtime)[1]
    assert step.status == "held"
    assert "could not check the customer's other orders" in step.reason
    # and after the merchant turns the check off and releases it, it goes
    set_manners(runtime, shop_id, open_order_check=False)
    with unit_of_work(runtime.sessions) as session:
        assert release_held(session, session.get(Shop, shop_id), clock()) == 1
    run(runtime, once=True)
    assert len(outbox(runtime)) == 1


def test_the_answer_is_cached_briefly_for_the_same_contact(runtime, client, clock, shopify):
    # given the check on, no other order, and the frequency cap off
    _shopify_shop(runtime, shopify)
    # when two carts of the same customer come due within ten minutes
    post_shopify(client, "checkouts/create", checkout("a", clock()), webhook_id="wa")
    clock.advance(minutes=5)
    post_shopify(client, "checkouts/create", checkout("b", clock()), webhook_id="wb")
    clock.advance(minutes=56)
    run(runtime, once=True)
    clock.advance(minutes=5)
    run(runtime, once=True)
    # then both went out after one question to Shopify
    assert len(outbox(runtime)) == 2
    assert shopify.count("orders") == 1


def test_a_woocommerce_customers_own_pending_cart_is_not_another_order(runtime, client, clock, woo):
    # given a WooCommerce shop with the check on, and the customer's cart is itself a pending order there
    key = woo.add_key(permissions="read_write")
    shop_id = add_shop_with_codes(runtime, platform="woocommerce", domain=woo.url, consumer_key=key.consumer_key,
                                  consumer_secret=key.consumer_secret, webhook_secret=WOO_SECRET)
    set_manners(runtime, shop_id, open_order_check=True)
    body = json.loads(load_fixture("woocommerce", "order_updated__pending.json"))
    stamp = clock().strftime("%Y-%m-%dT%H:%M:%S")
    body.update(date_modified_gmt=stamp, date_created_gmt=stamp)
    woo.add_order(status="pending", email=body["billing"]["email"], id=body["id"])
    post_woo(client, shop_id, "order.updated", body)
    # when the first step comes due
    clock.advance(minutes=61)
    run(runtime, once=True)
    # then it goes: the cart's own order was excluded
    assert len(outbox(runtime)) == 1
    # and a processing order of the same customer stops the next step
    woo.add_order(status="processing", email=body["billing"]["email"])
    clock.advance(days=1)
    run(runtime, once=True)
    assert steps(runtime)[2].status == "skipped"
