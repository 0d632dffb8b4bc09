"""The late-step rule in the worker, on each database: a cart first seen long after its
reminders' times skips them (and expires when none is left), a cart seen a few hours late
still gets them, and a late cart whose customer comes back is reminded again."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, OutboxEntry, ReminderStep
from bridge.rules import LATE_STEP_REASON
from bridge.worker import run
from tests.support.shops import add_shopify_shop, checkout, post_shopify


def steps(runtime, token: str) -> list[tuple[int, str, str | None]]:
    with unit_of_work(runtime.sessions) as session:
        return [tuple(r) for r in session.execute(
            select(ReminderStep.position, ReminderStep.status, ReminderStep.reason).join(Cart)
            .where(Cart.external_id == token).order_by(ReminderStep.position))]


def cart(runtime, token: str) -> Cart:
    with unit_of_work(runtime.sessions) as session:
        return session.scalars(select(Cart).where(Cart.external_id == token)).one()


def sent(runtime) -> int:
    with unit_of_work(runtime.sessions) as session:
        return len(session.scalars(select(OutboxEntry)).all())


def test_a_cart_first_seen_a_week_late_sends_nothing_and_expires(runtime, client, clock):
    # given a shop that first hears of a checkout its customer left eight days ago (a backfill)
    add_shopify_shop(runtime)
    left = clock() - timedelta(days=8)
    post_shopify(client, "checkouts/update", checkout("tok-old", left), webhook_id="w1")
    # when the worker applies it
    run(runtime, once=True)
    # then every reminder is skipped as imported late, none is sent, and the cart is expired
    assert steps(runtime, "tok-old") == [(n, "skipped", LATE_STEP_REASON) for n in (1, 2, 3)]
    assert sent(runtime) == 0
    found = cart(runtime, "tok-old")
    assert (found.state, found.abandoned_at, found.closed_at) == ("expired", left + timedelta(hours=1), clock())


def test_a_cart_first_seen_a_few_hours_late_is_reminded_at_once(runtime, client, clock):
    # given a checkout left six hours ago whose webhook was lost and which reconciliation found now
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/update", checkout("tok-1", clock() - timedelta(hours=6)), webhook_id="w1")
    # when the worker runs
    run(runtime, once=True)
    # then the first reminder goes out now, five hours late rather than never
    assert sent(runtime) == 1
    assert steps(runtime, "tok-1")[0][1] == "sent"


def test_a_late_cart_whose_customer_returns_is_reminded_again(runtime, client, clock):
    # given a cart imported a week late, all its reminders skipped
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/update", checkout("tok-old", clock() - timedelta(days=8)), webhook_id="w1")
    run(runtime, once=True)
    # when the customer comes back to the checkout now and leaves again
    post_shopify(client, "checkouts/update", checkout("tok-old", clock()), webhook_id="w2")
    run(runtime, once=True)
    # then the sequence starts over, and its first reminder goes out an hour later
    assert steps(runtime, "tok-old") == [(n, "pending", None) for n in (1, 2, 3)]
    clock.advance(minutes=61)
    run(runtime, once=True)
    assert sent(runtime) == 1
