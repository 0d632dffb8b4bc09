"""Retention on each database: what the purge deletes, what it never touches, and the daily
turn that exactly one of many workers takes."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from bridge.db.engine import unit_of_work
from bridge.db.tables import (Cart, CartItem, ContactLedger, Delivery, Message, OpenOrderCheck, OptOut, Order,
                              OutboxEntry, PrivacyRequest, ProviderEvent, ReminderStep, Shop)
from bridge.model import Contact, CustomerDataRequested
from bridge.services import optouts
from bridge.services.events import apply_event
from bridge.services.optouts import ContactRef
from bridge.services.retention import purge, run_if_due
from bridge.worker import run
from tests.support.shops import add_shopify_shop, checkout, order, post_shopify

DAYS = 30


def _pass(runtime):
    return run(runtime, once=True)


def _checkout(clock, token: str, email: str, customer_id: int) -> dict:
    payload = checkout(token, clock(), email=email)
    payload["customer"]["id"] = customer_id
    return payload


def _rows_of_the_day(runtime, client, clock, shop_id: int, day: str, order_id: int) -> None:
    """One day's traffic: a cart bought right away, a cart abandoned after its first reminder,
    a data export, ledger and open-order answers."""
    post_shopify(client, "checkouts/create", _checkout(clock, f"{day}-bought", f"buyer-{day}@example.com", 1),
                 webhook_id=f"{day}-w1")
    post_shopify(client, "checkouts/create", _checkout(clock, f"{day}-left", f"left-{day}@example.com", 2),
                 webhook_id=f"{day}-w2")
    post_shopify(client, "orders/create", order(order_id, clock() + timedelta(minutes=5),
                                                checkout_token=f"{day}-bought", email=f"buyer-{day}@example.com"),
                 webhook_id=f"{day}-w3")
    _pass(runtime)
    clock.advance(minutes=61)
    _pass(runtime)
    keys, now = runtime.contacts(), clock()
    with unit_of_work(runtime.sessions) as session:
        session.add(OpenOrderCheck(shop_id=shop_id, contact_hash=_hash(runtime, "check", day), checked_at=now))
        session.add(ContactLedger(shop_id=shop_id, contact_hash=_hash(runtime, "ledger", day), last_message_at=now,
                                  sequence_started_at=now))
        request = CustomerDataRequested(Contact(email=f"left-{day}@example.com"))
        apply_event(session, session.get(Shop, shop_id), request, now, keys)


def _provider_events(runtime, shop_id: int, received: dict) -> None:
    """A handled and a pending provider event per day; added after the worker passes, which
    would handle the pending ones."""
    with unit_of_work(runtime.sessions) as session:
        session.add_all([ProviderEvent(provider="sendgrid", event_id=f"{day}-{status}", event="open", shop_id=shop_id,
                                       body=b"{}", received_at=at, status=status)
                         for day, at in received.items() for status in ("processed", "pending")])


def _hash(runtime, kind: str, day: str) -> str:
    return runtime.contacts().email_hash(f"{kind}-{day}@example.com")


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_purge_removes_old_rows_and_keeps_opt_outs_live_carts_and_recent_rows(runtime, client, clock):
    # given a shop's traffic 40 days ago, an opt-out recorded then, and today's traffic, each day
    # with a handled and a pending provider event
    # (step 2 is due long after both days, so the abandoned carts stay live throughout)
    shop_id = add_shopify_shop(runtime, delays=(60, 80 * 24 * 60))
    _rows_of_the_day(runtime, client, clock, shop_id, "old", 5001)
    with unit_of_work(runtime.sessions) as session:
        optouts.opt_out(session, shop_id, ContactRef.of(runtime.contacts(), "gone@example.com"), source="link",
                        now=clock(), by="customer")
        old_bought = session.scalars(select(Cart.id).where(Cart.external_id == "old-bought")).one()
        assert session.get(Cart, old_bought).state == "converted"
    clock.advance(days=40)
    _rows_of_the_day(runtime, client, clock, shop_id, "new", 5002)
    _provider_events(runtime, shop_id, {"old": clock() - timedelta(days=40), "new": clock()})
    # when the purge runs with 30 days' retention, in chunks of two rows
    with unit_of_work(runtime.sessions) as session:
        counts = purge(session, clock(), DAYS, chunk=2)
    # then the old handled deliveries, handled provider events, exports, orders and the old bought cart
    # (with its items and steps) are gone
    assert {name: counts[name] for name in ("webhook_deliveries", "provider_events", "privacy_requests", "carts",
                                            "orders")} == {"webhook_deliveries": 3, "provider_events": 1,
                                                           "privacy_requests": 1, "carts": 1, "orders": 1}
    with unit_of_work(runtime.sessions) as session:
        assert _count(session, CartItem, CartItem.cart_id == old_bought) == 0
        assert _count(session, ReminderStep, ReminderStep.cart_id == old_bought) == 0
        # and so are the old ledger row and the open-order answer more than a day old
        ledger = set(session.scalars(select(ContactLedger.contact_hash)))
        checks = set(session.scalars(select(OpenOrderCheck.contact_hash)))
        assert _hash(runtime, "ledger", "old") not in ledger and _hash(runtime, "check", "old") not in checks
        # and the old cart still live (abandoned, step 2 to come) stays, with its message
        assert set(session.scalars(select(Cart.external_id))) == {"old-left", "new-bought", "new-left"}
        assert session.scalar(select(Cart.state).where(Cart.external_id == "old-left")) == "abandoned"
        assert _count(session, Message) == _count(session, OutboxEntry) == 2
        # and the opt-out stays, whatever its age, and so does a provider event still pending
        assert _count(session, OptOut) == 1
        assert set(session.scalars(select(ProviderEvent.event_id))) == {"old-pending", "new-processed",
                                                                         "new-pending"}
        # and today's rows all stay
        assert _count(session, Delivery) == 3 and _count(session, Order) == 1
        assert _count(session, PrivacyRequest) == 1
        assert _hash(runtime, "ledger", "new") in ledger and _hash(runtime, "check", "new") in checks


def test_a_ledger_row_stays_while_either_of_its_times_is_recent(runtime, clock):
    # given a contact messaged long ago whose sequence started recently, and one whose both times are old
    shop_id = add_shopify_shop(runtime)
    keys, now = runtime.contacts(), clock()
    with unit_of_work(runtime.sessions) as session:
        session.add_all([ContactLedger(shop_id=shop_id, contact_hash=keys.email_hash("a@example.com"),
                                       last_message_at=now - timedelta(days=200), sequence_started_at=now),
                         ContactLedger(shop_id=shop_id, contact_hash=keys.email_hash("b@example.com"),
                                       last_message_at=now - timedelta(days=200),
                                       sequence_started_at=now - timedelta(days=150))])
    # when the purge runs
    with unit_of_work(runtime.sessions) as session:
        purge(session, now, DAYS)
    # then only the row with nothing newer than the cutoff went
    with unit_of_work(runtime.sessions) as session:
        assert list(session.scalars(select(ContactLedger.contact_hash))) == [keys.email_hash("a@example.com")]


def test_two_workers_asking_at_once_run_the_daily_purge_once(runtime, clock):
    # given two workers reaching the daily purge at the same moment
    start = threading.Barrier(2)
    results: list = []

    def worker() -> None:
        start.wait()
        results.append(run_if_due(runtime.sessions, clock(), DAYS))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    # when both ask whether it is their turn
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then exactly one of them ran it
    assert sorted(result is not None for result in results) == [False, True]
    # and nobody runs it again within the day, and one does once the day is over
    clock.advance(hours=23, minutes=59)
    assert run_if_due(runtime.sessions, clock(), DAYS) is None
    clock.advance(minutes=1)
    assert run_if_due(runtime.sessions, clock(), DAYS) is not None


def test_a_cart_closed_today_by_an_old_dated_order_is_kept(runtime, client, clock):
    # given a checkout converted today by an order whose own date is a year back (an import,
    # a backdated order: closed_at is the platform's date, not ours)
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", _checkout(clock, "old-order", "anna@example.com", 1), webhook_id="w1")
    post_shopify(client, "orders/create", order(5001, clock() - timedelta(days=365), checkout_token="old-order"),
                 webhook_id="w2")
    _pass(runtime)
    # when the purge runs today
    with unit_of_work(runtime.sessions) as session:
        purge(session, clock(), DAYS)
    # then the cart it just closed is still there
    with unit_of_work(runtime.sessions) as session:
        assert session.scalars(select(Cart.state).where(Cart.external_id == "old-order")).one() == "converted"


def test_a_merchants_old_test_sends_go_and_recent_ones_stay(runtime, clock):
    # given two test sends from the admin page (no reminder behind them), one past retention
    from bridge.db.tables import OutboxEntry
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as session:
        for age in (DAYS + 1, 1):
            session.add(OutboxEntry(message_id=None, kind="test", shop_id=shop_id, to_email="me@shop.example",
                                    from_email="shop@example.com", subject="[Test] hello", html="", text="",
                                    headers={}, created_at=clock() - timedelta(days=age)))
    # when the purge runs
    with unit_of_work(runtime.sessions) as session:
        counts = purge(session, clock(), DAYS)
    # then only the old one is gone
    assert counts["test_sends"] == 1
    with unit_of_work(runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 1
