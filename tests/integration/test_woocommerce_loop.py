"""WooCommerce: a pending order is an abandoned checkout; processing stops it; cancel removes it."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, OutboxEntry
from bridge.worker import run
from tests.support.fixtures import load_fixture
from tests.support.shops import add_woo_shop, post_woo


def _order(status: str, modified, **changes) -> dict:
    order = json.loads(load_fixture("woocommerce", "order_updated__pending.json"))
    stamp = modified.strftime("%Y-%m-%dT%H:%M:%S")
    order.update(status=status, date_modified_gmt=stamp, date_modified=stamp, **changes)
    return order


def _outbox(runtime) -> list[OutboxEntry]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(OutboxEntry)))


def _cart_state(runtime) -> str:
    with unit_of_work(runtime.sessions) as session:
        return session.scalars(select(Cart.state)).one()


def test_pending_order_is_reminded_with_its_payment_link_in_ukrainian(runtime, client, clock):
    # given a WooCommerce shop and a pending (unpaid) order from a Ukrainian customer
    shop_id = add_woo_shop(runtime)
    post_woo(client, shop_id, "order.created", _order("pending", clock()))
    # when an hour passes
    clock.advance(minutes=61)
    run(runtime, once=True)
    # then one reminder went out, linking to the order's payment page
    [message] = _outbox(runtime)
    assert message.to_email == "olena.kovalenko@example.com.ua"
    assert "pay_for_order=true" in message.html
    assert "Олена" in message.text


def test_order_turning_processing_stops_the_sequence(runtime, client, clock):
    # given a pending order whose first reminder went out
    shop_id = add_woo_shop(runtime)
    post_woo(client, shop_id, "order.created", _order("pending", clock()))
    clock.advance(minutes=61)
    run(runtime, once=True)
    # when the customer pays (order.updated with status processing, newer modification time)
    post_woo(client, shop_id, "order.updated", _order("processing", clock()))
    clock.advance(days=4)
    run(runtime, once=True)
    # then nothing more was sent and the cart counts as recovered
    assert len(_outbox(runtime)) == 1
    assert _cart_state(runtime) == "recovered"


def test_cancelled_order_removes_the_cart(runtime, client, clock):
    # given a pending order
    shop_id = add_woo_shop(runtime)
    post_woo(client, shop_id, "order.created", _order("pending", clock()))
    # when the merchant cancels it ten minutes later
    post_woo(client, shop_id, "order.updated", _order("cancelled", clock() + timedelta(minutes=10)))
    clock.advance(days=4)
    run(runtime, once=True)
    # then no reminder went out
    assert _outbox(runtime) == []
    assert _cart_state(runtime) == "removed"


def test_same_modification_delivered_twice_is_processed_once(runtime, client, clock):
    # given WooCommerce delivers the same order modification twice (order.created and order.updated)
    shop_id = add_woo_shop(runtime)
    first = post_woo(client, shop_id, "order.created", _order("pending", clock()))
    second = post_woo(client, shop_id, "order.created", _order("pending", clock()),
                      overrides={"X-WC-Webhook-Delivery-ID": "another-delivery-id"})
    # then the second is acknowledged as a duplicate
    assert (first.json["status"], second.json["status"]) == ("stored", "duplicate")
