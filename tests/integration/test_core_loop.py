"""The core loop end to end on each database: signed webhooks in, reminders out, stopped by the order."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Delivery, OutboxEntry, ReminderStep
from bridge.worker import run
from tests.support.shops import add_shopify_shop, checkout, order, post_shopify


def _pass(runtime):
    return run(runtime, once=True)


def _outbox(runtime) -> list[OutboxEntry]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def _cart(runtime, token: str) -> Cart:
    with unit_of_work(runtime.sessions) as session:
        return session.scalars(select(Cart).where(Cart.external_id == token)).one()


def _steps(runtime, token: str) -> list[tuple[int, str]]:
    with unit_of_work(runtime.sessions) as session:
        rows = session.execute(select(ReminderStep.position, ReminderStep.status).join(Cart)
                               .where(Cart.external_id == token).order_by(ReminderStep.position))
        return [tuple(r) for r in rows]


def test_abandoned_checkout_gets_the_sequence_and_the_order_stops_it(runtime, client, clock):
    # given a shop with the default sequence and a checkout left by a customer
    add_shopify_shop(runtime)
    left_at = clock()
    assert post_shopify(client, "checkouts/create", checkout("tok-1", left_at), webhook_id="w1").status_code == 200
    _pass(runtime)
    # when an hour passes
    clock.advance(minutes=61)
    _pass(runtime)
    # then the first reminder is in the outbox, naming the product, to the customer
    sent = _outbox(runtime)
    assert [m.to_email for m in sent] == ["anna@example.com"]
    assert "Linen Shirt" in sent[0].subject
    assert _cart(runtime, "tok-1").state == "abandoned"
    # when the customer buys (order with the checkout token) and days pass
    post_shopify(client, "orders/create", order(1001, clock(), checkout_token="tok-1"), webhook_id="w2")
    _pass(runtime)
    clock.advance(days=5)
    _pass(runtime)
    # then no further reminder went out and the cart counts as recovered
    assert len(_outbox(runtime)) == 1
    assert _steps(runtime, "tok-1") == [(1, "sent"), (2, "cancelled"), (3, "cancelled")]
    cart = _cart(runtime, "tok-1")
    assert (cart.state, cart.order_id) == ("recovered", "1001")


def test_full_sequence_runs_at_1h_24h_72h_and_then_expires(runtime, client, clock):
    # given an abandoned checkout
    add_shopify_shop(runtime)
    start = clock()
    post_shopify(client, "checkouts/create", checkout("tok-2", start), webhook_id="w1")
    sent_after = []
    # when the clock walks through three days, hour by hour
    for hour in range(1, 74):
        clock.current = start + timedelta(hours=hour, minutes=1)
        _pass(runtime)
        if len(_outbox(runtime)) > len(sent_after):
            sent_after.append(hour)
    # then reminders went out at 1 h, 24 h and 72 h, and the sequence is over
    assert sent_after == [1, 24, 72]
    assert _cart(runtime, "tok-2").state == "expired"


def test_order_that_arrives_before_its_checkout_prevents_every_reminder(runtime, client, clock):
    # given the order webhook overtook the checkout webhook (Shopify does not order deliveries)
    add_shopify_shop(runtime)
    left_at = clock()
    post_shopify(client, "orders/create", order(2002, left_at + timedelta(minutes=5), checkout_token="tok-3"),
                 webhook_id="w-order")
    _pass(runtime)
    post_shopify(client, "checkouts/update", checkout("tok-3", left_at), webhook_id="w-checkout")
    # when time passes well beyond the whole sequence
    for _ in range(4):
        clock.advance(days=1)
        _pass(runtime)
    # then nothing was sent and the cart is converted
    assert _outbox(runtime) == []
    assert _cart(runtime, "tok-3").state == "converted"


def test_order_without_tokens_converts_by_email_within_the_window(runtime, client, clock):
    # given an abandoned checkout and an order with null tokens (Shopify's sample has them)
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-4", clock()), webhook_id="w1")
    _pass(runtime)
    # when the order for the same email arrives 30 minutes later
    post_shopify(client, "orders/create", order(3003, clock() + timedelta(minutes=30)), webhook_id="w2")
    clock.advance(days=4)
    _pass(runtime)
    # then no reminder was sent
    assert _outbox(runtime) == []
    assert _cart(runtime, "tok-4").order_id == "3003"


def test_stale_update_never_undoes_newer_state(runtime, client, clock):
    # given a checkout updated at 10:30 and then a delayed delivery of its 10:00 version
    add_shopify_shop(runtime)
    newer = checkout("tok-5", clock() + timedelta(minutes=30), title="Wool Coat")
    older = checkout("tok-5", clock(), title="Linen Shirt")
    post_shopify(client, "checkouts/update", newer, webhook_id="w-new")
    post_shopify(client, "checkouts/update", older, webhook_id="w-old")
    # when both are processed
    _pass(runtime)
    # then the cart keeps the newer content and its steps are timed from the newer activity
    with unit_of_work(runtime.sessions) as session:
        cart = session.scalars(select(Cart).where(Cart.external_id == "tok-5")).one()
        assert [i.title for i in cart.items] == ["Wool Coat"]
        first_due = session.scalar(select(ReminderStep.due_at).where(ReminderStep.cart_id == cart.id,
                                                                     ReminderStep.position == 1))
    assert first_due == clock() + timedelta(minutes=30 + 60)


def test_new_activity_replans_pending_steps(runtime, client, clock):
    # given an abandoned checkout whose first reminder went out
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-6", clock()), webhook_id="w1")
    clock.advance(minutes=61)
    _pass(runtime)
    # when the customer comes back 2 hours later and edits the cart
    clock.advance(hours=2)
    post_shopify(client, "checkouts/update", checkout("tok-6", clock()), webhook_id="w2")
    _pass(runtime)
    # then step 1 stays sent, step 2 is re-timed 24 h from the new activity, and the cart is open again
    with unit_of_work(runtime.sessions) as session:
        rows = dict(session.execute(select(ReminderStep.position, ReminderStep.due_at).join(Cart)
                                    .where(Cart.external_id == "tok-6")).all())
    assert rows[2] == clock() + timedelta(hours=24)
    assert _steps(runtime, "tok-6")[0] == (1, "sent")
    assert _cart(runtime, "tok-6").state == "open"


def test_duplicate_delivery_is_acknowledged_and_processed_once(runtime, client, clock):
    # given the same webhook delivered twice (same X-Shopify-Webhook-Id)
    add_shopify_shop(runtime)
    payload = checkout("tok-7", clock())
    first = post_shopify(client, "checkouts/create", payload, webhook_id="dup")
    second = post_shopify(client, "checkouts/create", payload, webhook_id="dup")
    # then both get 200, one is stored
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json["status"], second.json["status"]) == ("stored", "duplicate")
    with unit_of_work(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 1


def test_checkout_without_email_gets_no_reminder(runtime, client, clock):
    # given a checkout with no email address
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-8", clock(), email=None), webhook_id="w1")
    # when the whole sequence time passes
    clock.advance(days=4)
    _pass(runtime)
    # then nothing was sent and no step was planned
    assert _outbox(runtime) == []
    assert _steps(runtime, "tok-8") == []


def test_checkout_delete_removes_the_cart_and_its_steps(runtime, client, clock):
    # given an open checkout
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-9", clock(), cart_token="ct-9"), webhook_id="w1")
    _pass(runtime)
    # when Shopify deletes it (the payload has only id and cart_token)
    clock.advance(minutes=10)
    post_shopify(client, "checkouts/delete", {"id": 555, "cart_token": "ct-9"}, webhook_id="w2",
                 overrides={"X-Shopify-Triggered-At": clock().isoformat()})
    clock.advance(days=4)
    _pass(runtime)
    # then nothing is sent and the cart is removed
    assert _outbox(runtime) == []
    assert _cart(runtime, "tok-9").state == "removed"


def test_a_later_order_does_not_steal_the_attribution_of_a_converted_cart(runtime, client, clock):
    # given a cart converted by order 5001
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-10", clock()), webhook_id="w1")
    post_shopify(client, "orders/create", order(5001, clock() + timedelta(minutes=5), checkout_token="tok-10"),
                 webhook_id="w2")
    _pass(runtime)
    # when orders/paid for it arrives, and later another order naming the same checkout token
    post_shopify(client, "orders/paid", order(5001, clock() + timedelta(minutes=6), checkout_token="tok-10"),
                 webhook_id="w3")
    post_shopify(client, "orders/create", order(5002, clock() + timedelta(days=2), checkout_token="tok-10"),
                 webhook_id="w4")
    _pass(runtime)
    # then the cart stays attributed to the first order
    cart = _cart(runtime, "tok-10")
    assert (cart.state, cart.order_id) == ("converted", "5001")
