"""The claim re-checks eligibility itself: the last line of defence before a send."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Order, OutboxEntry, ReminderStep, Shop
from bridge.worker import run
from tests.support.shops import add_shopify_shop, checkout, post_shopify


def _abandoned_cart(runtime, client, clock, token: str = "tok-c") -> None:
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout(token, clock()), webhook_id=f"w-{token}")
    run(runtime, once=True)


def _outbox(runtime) -> list[OutboxEntry]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(OutboxEntry)))


def test_an_order_committed_concurrently_stops_the_step_at_claim_time(runtime, client, clock):
    # given a cart with planned steps, and an order for it that was committed by a concurrent
    # transaction which never saw the cart (so the cart itself was never converted)
    _abandoned_cart(runtime, client, clock)
    with unit_of_work(runtime.sessions) as session:
        shop_id = session.scalars(select(Shop.id)).one()
        session.add(Order(shop_id=shop_id, order_id="race-1", checkout_ref="tok-c", total=Decimal("98"),
                          currency="USD", placed_at=clock() + timedelta(minutes=10), received_at=clock()))
    # when the first step falls due and a worker runs
    clock.advance(minutes=61)
    run(runtime, once=True)
    # then nothing is sent, the step says why, and the cart is converted by that order
    assert _outbox(runtime) == []
    with unit_of_work(runtime.sessions) as session:
        step = session.scalars(select(ReminderStep).where(ReminderStep.position == 1)).one()
        cart = session.scalars(select(Cart)).one()
    assert (step.status, step.reason) == ("cancelled", "converted")
    assert (cart.state, cart.order_id) == ("converted", "race-1")


def test_an_order_by_the_same_email_placed_before_the_cart_does_not_stop_it(runtime, client, clock):
    # given an older order from the same customer, placed before this cart's activity
    _abandoned_cart(runtime, client, clock)
    with unit_of_work(runtime.sessions) as session:
        shop_id = session.scalars(select(Shop.id)).one()
        session.add(Order(shop_id=shop_id, order_id="old-1", email="anna@example.com", total=Decimal("10"),
                          currency="USD", placed_at=clock() - timedelta(days=3), received_at=clock()))
    # when the step falls due
    clock.advance(minutes=61)
    run(runtime, once=True)
    # then the reminder goes out: that order says nothing about this cart
    assert len(_outbox(runtime)) == 1


def test_steps_of_a_shop_that_is_not_active_are_skipped(runtime, client, clock):
    # given a cart whose shop was deactivated (e.g. the app was uninstalled)
    _abandoned_cart(runtime, client, clock)
    with unit_of_work(runtime.sessions) as session:
        session.scalars(select(Shop)).one().status = "uninstalled"
    # when the step falls due
    clock.advance(minutes=61)
    run(runtime, once=True)
    # then it is skipped with the reason
    assert _outbox(runtime) == []
    with unit_of_work(runtime.sessions) as session:
        step = session.scalars(select(ReminderStep).where(ReminderStep.position == 1)).one()
    assert (step.status, step.reason) == ("skipped", "shop not active")
