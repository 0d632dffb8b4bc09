"""Reconciliation (bridge.services.sync) on each database, against a scripted fake platform:
what it stores in the inbox, where it starts reading, what a failure leaves behind, and
which shops the worker's schedule picks."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Delivery, ReminderStep, Shop, ShopSync
from bridge.model import AppUninstalled
from bridge.rules import LATE_STEP_REASON
from bridge.services.events import apply_event
from bridge.services.inbox import process_inbox
from bridge.services.install import connect_woocommerce, install_shopify
from bridge.services.sync import sync_due, sync_shop
from bridge.services.sync_schedule import claim_sync_due
from connectors.base import CallOutcome, ChangePage, StoreResult, TokenSet
from connectors.registry import CONNECTORS
from tests.support.fake_platform import FakePlatform, shopify_checkout, shopify_order, woo_order
from tests.support.shops import add_shopify_shop

DOMAIN = "cartbridge-test.myshopify.com"
INTERVAL = timedelta(minutes=15)


@pytest.fixture
def shopify():
    return FakePlatform("shopify")


def installed(runtime, clock, domain: str = DOMAIN) -> int:
    with unit_of_work(runtime.sessions) as session:
        return install_shopify(session, runtime.box, domain=domain, tokens=TokenSet("shpat_x"), scopes="read_orders",
                               now=clock(), managed_by="shopify").id


def sync(runtime, fake: FakePlatform, shop_id: int, **options):
    return sync_shop(runtime.sessions, fake.access(runtime), {fake.platform: fake.connector()}, shop_id,
                     runtime.now(), **options)


def state(runtime, shop_id: int) -> ShopSync:
    with unit_of_work(runtime.sessions) as session:
        return session.get(ShopSync, shop_id)


def deliveries(runtime) -> list[Delivery]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def apply_inbox(runtime) -> None:
    """What the worker's inbox pass does with the synced records: the real normalizers."""
    process_inbox(runtime.sessions, CONNECTORS, runtime.now, runtime.contacts())


def reads(fake: FakePlatform) -> list[tuple]:
    return [call[1:] for call in fake.calls if call[0] == "changes"]


# what a sync stores

def test_every_record_read_goes_into_the_inbox_and_the_worker_makes_a_cart_of_it(runtime, clock, shopify):
    # given an installed shop whose platform holds a checkout left two hours ago that no webhook brought
    shop_id = installed(runtime, clock)
    left = clock() - timedelta(hours=2)
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", left),))]
    # when the shop is synced
    result = sync(runtime, shopify, shop_id)
    # then the checkout is stored as an inbox delivery marked as coming from the sync
    assert (result.stored, result.known, result.skipped, result.pages, result.error) == (1, 0, 0, 2, None)
    [delivery] = deliveries(runtime)
    assert (delivery.topic, delivery.status) == ("checkouts/update", "pending")
    assert delivery.delivery_key == f"sync:checkouts/update:tok-1:{left.isoformat()}"
    assert (delivery.meta["source"], delivery.meta["shop_key"]) == ("sync", DOMAIN)
    # and the worker's inbox pass turns it into a cart whose first reminder is due now
    apply_inbox(runtime)
    with unit_of_work(runtime.sessions) as session:
        cart = session.scalars(select(Cart).where(Cart.external_id == "tok-1")).one()
        steps = session.scalars(select(ReminderStep).where(ReminderStep.cart_id == cart.id)
                                .order_by(ReminderStep.position)).all()
    assert [(s.status, s.due_at) for s in steps] == [("pending", left + timedelta(hours=1)),
                                                     ("pending", left + timedelta(hours=24)),
                                                     ("pending", left + timedelta(hours=72))]


def test_an_order_read_back_converts_the_cart_whose_order_webhook_was_lost(runtime, client, clock, shopify):
    # given a shop with a cart from a checkout webhook, whose orders/create webhook never came
    shop_id = installed(runtime, clock)
    left = clock() - timedelta(minutes=30)
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", left),))]
    sync(runtime, shopify, shop_id)
    apply_inbox(runtime)
    # when the next sync reads the customer's order (Admin GraphQL has no checkout token)
    clock.advance(minutes=15)
    shopify.pages = {"orders": [ChangePage((shopify_order(5001, clock() - timedelta(minutes=5)),))]}
    sync(runtime, shopify, shop_id)
    apply_inbox(runtime)
    # then the cart is converted by the contact match and its reminders are cancelled
    with unit_of_work(runtime.sessions) as session:
        cart = session.scalars(select(Cart).where(Cart.external_id == "tok-1")).one()
        statuses = set(session.scalars(select(ReminderStep.status).where(ReminderStep.cart_id == cart.id)))
    assert (cart.state, cart.order_id) == ("converted", "5001")
    assert statuses == {"cancelled"}


def test_a_woocommerce_order_is_stored_under_the_stores_id_and_read_by_the_woocommerce_normalizer(runtime, clock):
    # given a connected store holding a pending order from an hour ago
    woo = FakePlatform("woocommerce")
    with unit_of_work(runtime.sessions) as session:
        shop_id = connect_woocommerce(session, runtime.box, url="https://woo.example", consumer_key="ck",
                                      consumer_secret="cs", now=clock()).id
    woo.pages["orders"] = [ChangePage((woo_order(3082, clock() - timedelta(hours=1)),), total=1)]
    # when the store is synced and the inbox applied
    result = sync(runtime, woo, shop_id)
    apply_inbox(runtime)
    # then the delivery carries the shop key the webhook edge would give it, and became a cart
    [delivery] = deliveries(runtime)
    assert (result.stored, delivery.topic, delivery.meta["shop_key"]) == (1, "order.updated", str(shop_id))
    assert (delivery.status, delivery.reason) == ("processed", None)
    with unit_of_work(runtime.sessions) as session:
        assert session.scalars(select(Cart.external_id).where(Cart.shop_id == shop_id)).all() == ["3082"]


def test_reading_the_same_records_again_stores_nothing_twice(runtime, clock, shopify):
    # given a shop synced once
    shop_id = installed(runtime, clock)
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", clock() - timedelta(hours=2)),),
                                             skipped=1)]
    sync(runtime, shopify, shop_id)
    # when the overlap of the next sync reads the same version of the checkout again
    clock.advance(minutes=15)
    result = sync(runtime, shopify, shop_id)
    # then it is counted as known, and the inbox still holds it once
    assert (result.stored, result.known, result.skipped, result.read) == (0, 1, 1, 2)
    assert len(deliveries(runtime)) == 1


def test_a_newer_version_of_a_record_is_stored_again(runtime, clock, shopify):
    # given a shop synced once
    shop_id = installed(runtime, clock)
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", clock() - timedelta(hours=2)),))]
    sync(runtime, shopify, shop_id)
    # when the customer changed the checkout since
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", clock() - timedelta(minutes=1)),))]
    result = sync(runtime, shopify, shop_id)
    # then the new version is a new delivery (updated_at is part of its key)
    assert result.stored == 1
    assert len(deliveries(runtime)) == 2


# where a sync reads from

def test_the_first_sync_after_install_reads_seven_days_back_then_from_the_cursor_minus_five_minutes(
        runtime, clock, shopify):
    # given a shop installed now
    installed_at = clock()
    shop_id = installed(runtime, clock)
    # when it is synced now, and again fifteen minutes later
    sync(runtime, shopify, shop_id)
    first = state(runtime, shop_id)
    clock.advance(minutes=15)
    sync(runtime, shopify, shop_id)
    # then the first sync read both kinds from seven days back, and moved each cursor to its start
    week_ago = installed_at - timedelta(days=7)
    assert reads(shopify)[:2] == [("checkouts", week_ago, None), ("orders", week_ago, None)]
    assert first.cursors == {"checkouts": installed_at.isoformat(), "orders": installed_at.isoformat()}
    assert first.backfill_since is None
    # and the second read from five minutes before the first one started
    assert reads(shopify)[2:] == [("checkouts", installed_at - timedelta(minutes=5), None),
                                  ("orders", installed_at - timedelta(minutes=5), None)]


def test_pages_are_read_one_after_another_until_the_last(runtime, clock, shopify):
    # given a platform with three pages of checkouts
    shop_id = installed(runtime, clock)
    left = clock() - timedelta(hours=3)
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout(f"tok-{n}", left + timedelta(minutes=n)),), total=3)
                                  for n in range(3)]
    progress = []
    # when the shop is synced with a progress callback
    result = sync(runtime, shopify, shop_id, progress=lambda records, total: progress.append((records, total)))
    # then each page was asked for with the cursor the previous one gave
    assert [cursor for kind, _since, cursor in reads(shopify) if kind == "checkouts"] == [None, "1", "2"]
    assert (result.stored, result.pages) == (3, 4)
    # and progress was told per page; the total is unknown once a kind without a total started
    assert progress == [(1, 3), (1, 3), (1, 3), (0, None)]


def test_a_since_given_reads_from_there_and_leaves_a_newer_cursor_alone(runtime, clock, shopify):
    # given a shop synced now
    shop_id = installed(runtime, clock)
    sync(runtime, shopify, shop_id)
    synced_at = clock()
    # when an operator reads the last 36 hours an hour later, and ten minutes later the last three
    clock.advance(hours=1)
    sync(runtime, shopify, shop_id, since=clock() - timedelta(hours=36))
    after_long = state(runtime, shop_id).cursors["orders"]
    clock.advance(minutes=10)
    sync(runtime, shopify, shop_id, since=clock() - timedelta(minutes=3))
    # then each read started where asked
    assert [since for _kind, since, _cursor in reads(shopify)[2:]] == [
        synced_at + timedelta(hours=1) - timedelta(hours=36)] * 2 + [clock() - timedelta(minutes=3)] * 2
    # and the cursor moved with the long read (it covered the gap) but not with the short one
    assert after_long == (synced_at + timedelta(hours=1)).isoformat()
    assert state(runtime, shop_id).cursors["orders"] == after_long


# failures

def test_a_failed_page_stops_the_shops_sync_keeps_its_cursor_and_records_the_platforms_message(
        runtime, clock, shopify):
    # given a shop synced once, whose platform then fails on the second page of checkouts
    shop_id = installed(runtime, clock)
    sync(runtime, shopify, shop_id)
    cursors = state(runtime, shop_id).cursors
    clock.advance(minutes=15)
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", clock() - timedelta(hours=2)),)),
                                  StoreResult(CallOutcome.RETRY, error="HTTP 503")]
    # when it is synced
    result = sync(runtime, shopify, shop_id)
    # then the first page is kept, orders were not read, the cursors did not move, and the error is recorded
    assert (result.stored, result.error) == (1, "checkouts: HTTP 503")
    assert [kind for kind, _since, _cursor in reads(shopify)[2:]] == ["checkouts", "checkouts"]
    after = state(runtime, shop_id)
    assert (after.cursors, after.last_sync_error, after.last_sync_at) == (cursors, "checkouts: HTTP 503", clock())
    # and the next successful sync clears the error
    shopify.pages["checkouts"] = []
    assert sync(runtime, shopify, shop_id).error is None
    assert state(runtime, shop_id).last_sync_error is None


def test_a_missing_scope_is_recorded_as_the_reason_the_sync_stopped(runtime, clock, shopify):
    # given a shop installed without the scope abandoned checkouts need
    shop_id = installed(runtime, clock)
    message = "Access denied for abandonedCheckouts field. Required access: `read_orders` access scope."
    shopify.fail["changes"] = StoreResult(CallOutcome.REFUSED, error=message)
    # when it is synced
    result = sync(runtime, shopify, shop_id)
    # then the platform's message is what the merchant sees, and the backfill is still to do
    assert result.error == f"checkouts: {message}"
    after = state(runtime, shop_id)
    assert after.last_sync_error == f"checkouts: {message}"
    assert after.backfill_since == clock() - timedelta(days=7)


def test_no_database_connection_is_held_while_the_platform_is_called(runtime, clock, shopify):
    # given a shop and a platform that looks at our connection pool while it answers
    shop_id = installed(runtime, clock)
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", clock()),)), ChangePage(())]
    held = []
    shopify.during_call = lambda: held.append(runtime.engine.pool.checkedout())
    # when the shop is synced
    sync(runtime, shopify, shop_id)
    # then no transaction was open during any of the calls
    assert held == [0, 0, 0]


def test_a_shop_without_credentials_is_not_called(runtime, clock, shopify):
    # given an installed shop that was uninstalled since
    shop_id = installed(runtime, clock)
    with unit_of_work(runtime.sessions) as session:
        apply_event(session, session.get(Shop, shop_id), AppUninstalled(occurred_at=clock()), clock(),
                    runtime.contacts())
    # when a sync is asked for / then it says why it did nothing, without calling the platform
    assert sync(runtime, shopify, shop_id).error == "the shop is not installed"
    assert shopify.calls == []


# the late-step rule, end to end

def test_a_checkout_read_two_days_late_skips_the_reminders_whose_time_is_long_past(runtime, clock, shopify):
    # given a shop whose backfill finds a checkout left 50 hours ago (reminders due at +1 h, +24 h, +72 h)
    shop_id = installed(runtime, clock)
    left = clock() - timedelta(hours=50)
    shopify.pages["checkouts"] = [ChangePage((shopify_checkout("tok-old", left),))]
    # when it is synced and applied
    sync(runtime, shopify, shop_id)
    apply_inbox(runtime)
    # then the first two reminders are skipped as imported late, and the third is still to come
    with unit_of_work(runtime.sessions) as session:
        steps = session.execute(select(ReminderStep.status, ReminderStep.reason, ReminderStep.due_at)
                                .order_by(ReminderStep.position)).all()
    assert [tuple(s) for s in steps] == [("skipped", LATE_STEP_REASON, left + timedelta(hours=1)),
                                         ("skipped", LATE_STEP_REASON, left + timedelta(hours=24)),
                                         ("pending", None, left + timedelta(hours=72))]


# the schedule

def test_only_enrolled_reachable_shops_are_synced_and_each_is_due_again_an_interval_later(runtime, clock, shopify):
    # given an installed shop, a shop added by hand (never enrolled) and an installed shop uninstalled since
    shop_id = installed(runtime, clock)
    add_shopify_shop(runtime, "by-hand.myshopify.com")
    gone = installed(runtime, clock, "gone.myshopify.com")
    with unit_of_work(runtime.sessions) as session:
        apply_event(session, session.get(Shop, gone), AppUninstalled(occurred_at=clock()), clock(),
                    runtime.contacts())
    # when the worker's schedule runs
    results = sync_due(runtime.sessions, shopify.access(runtime), {"shopify": shopify.connector()}, clock(), INTERVAL)
    # then only the installed shop was read, and it is due again in fifteen minutes, unclaimed
    assert [r.shop_id for r in results] == [shop_id]
    after = state(runtime, shop_id)
    assert (after.next_sync_at, after.sync_claimed_until) == (clock() + INTERVAL, None)
    # and before then, nothing is due
    clock.advance(minutes=14)
    assert sync_due(runtime.sessions, shopify.access(runtime), {"shopify": shopify.connector()}, clock(),
                    INTERVAL) == []


def test_a_shop_being_synced_is_not_claimed_by_a_second_worker(runtime, clock):
    # given an installed shop that one worker has just claimed
    shop_id = installed(runtime, clock)
    assert claim_sync_due(runtime.sessions, clock(), 10) == [shop_id]
    # when a second worker looks for due shops, now and 29 minutes later / then it finds none
    assert claim_sync_due(runtime.sessions, clock(), 10) == []
    assert claim_sync_due(runtime.sessions, clock() + timedelta(minutes=29), 10) == []
    # and once the first worker's claim has run out (it died), the shop is due again
    assert claim_sync_due(runtime.sessions, clock() + timedelta(minutes=31), 10) == [shop_id]


def test_a_crash_in_one_shop_is_recorded_and_the_next_shop_is_still_synced(runtime, clock, shopify):
    # given two installed shops, the first of which makes the sync crash
    first = installed(runtime, clock)
    second = installed(runtime, clock, "second.myshopify.com")

    def crash_on_first():
        if len([c for c in shopify.calls if c[0] == "changes"]) == 1:
            raise RuntimeError("a bug")
    shopify.during_call = crash_on_first
    # when the worker's schedule runs
    results = sync_due(runtime.sessions, shopify.access(runtime), {"shopify": shopify.connector()}, clock(), INTERVAL)
    # then the first shop's crash is recorded by type only, and the second shop was synced
    assert [(r.shop_id, r.error) for r in results] == [(first, "internal error: RuntimeError"), (second, None)]
    assert state(runtime, first).last_sync_error == "internal error: RuntimeError"
    assert (state(runtime, first).next_sync_at, state(runtime, first).sync_claimed_until) == (clock() + INTERVAL, None)
