"""Discount codes end to end on each database, against a local WooCommerce REST API.

Signed order webhooks in, the real worker, the real ``woocommerce`` client (OAuth 1.0a over
http) to ``tests/servers/woocommerce_api.py``; reminders land in the dev outbox.
"""
from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest

from bridge.worker import run
from tests.servers.woocommerce_api import WooCommerceTestServer
from tests.support.discounts import add_shop_with_codes, cart_state, connect, discounts, outbox, steps
from tests.support.fixtures import load_fixture
from tests.support.shops import WOO_SECRET, post_woo


@pytest.fixture
def store(runtime):
    with WooCommerceTestServer() as server, httpx.Client() as unused_shopify_client:
        connect(runtime, unused_shopify_client)
        yield server


def _order(status: str, modified, **changes) -> dict:
    order = json.loads(load_fixture("woocommerce", "order_updated__pending.json"))
    stamp = modified.strftime("%Y-%m-%dT%H:%M:%S")
    order.update(status=status, date_modified_gmt=stamp, date_modified=stamp, **changes)
    return order


def _shop(runtime, store, permissions: str = "read_write") -> int:
    key = store.add_key(permissions=permissions)
    return add_shop_with_codes(runtime, platform="woocommerce", domain=store.url, consumer_key=key.consumer_key,
                               consumer_secret=key.consumer_secret, webhook_secret=WOO_SECRET)


def _reach_step_two(runtime, client, clock, shop_id: int) -> None:
    post_woo(client, shop_id, "order.created", _order("pending", clock()))
    clock.advance(minutes=61)
    run(runtime, once=True)
    clock.advance(hours=23)
    run(runtime, once=True)


def test_step_two_creates_a_coupon_for_this_customer_and_links_the_checkout_with_it(runtime, client, clock, store):
    # given a WooCommerce shop whose step 2 offers 10%
    shop_id = _shop(runtime, store)
    # when a pending order reaches step 2
    _reach_step_two(runtime, client, clock, shop_id)
    # then one coupon exists, restricted to the customer, single use, ours, expiring with the code
    [code] = discounts(runtime)
    [coupon] = store.coupons
    assert coupon["code"] == code.code.lower() and str(coupon["id"]) == code.platform_id
    assert coupon["email_restrictions"] == ["olena.kovalenko@example.com.ua"]
    assert coupon["usage_limit"] == 1 and coupon["individual_use"] is True
    assert {"key": "_cartbridge", "value": f"cartbridge cart {code.cart_id} step 2"} in [
        {"key": m["key"], "value": m["value"]} for m in coupon["meta_data"]]
    assert coupon["date_expires_gmt"].startswith(code.expires_at.strftime("%Y-%m-%dT%H:%M"))
    assert store.count("create") == 1
    # and the message links WooCommerce's checkout link that restores the cart with the coupon
    _first, second = outbox(runtime)
    assert f"/checkout-link/?products=63:1&amp;coupon={quote(code.code)}" in second.html
    assert code.code in second.text


def test_an_order_with_our_coupon_redeems_it(runtime, client, clock, store):
    # given step 2 sent with a coupon
    shop_id = _shop(runtime, store)
    _reach_step_two(runtime, client, clock, shop_id)
    [code] = discounts(runtime)
    # when the order is paid with that coupon (WooCommerce lists it lower-cased in coupon_lines)
    clock.advance(hours=1)
    paid = _order("processing", clock(), coupon_lines=[{"id": 9, "code": code.code.lower(), "discount": "4.90"}])
    post_woo(client, shop_id, "order.updated", paid)
    run(runtime, once=True)
    # then the code is redeemed by that order and the cart counts as recovered
    [code] = discounts(runtime)
    assert code.status == "redeemed" and code.order_id == "3082"
    assert cart_state(runtime) == "recovered"


def test_a_read_only_key_holds_the_step_with_woocommerces_reason(runtime, client, clock, store):
    # given a store connected with a read-only REST key
    shop_id = _shop(runtime, store, permissions="read")
    # when step 2 needs its coupon
    _reach_step_two(runtime, client, clock, shop_id)
    # then the step is held (not sent without the promised code) and the reason names the permission
    assert steps(runtime)[2].status == "held" and len(outbox(runtime)) == 1
    assert "write permission" in steps(runtime)[2].reason and store.coupons == []
