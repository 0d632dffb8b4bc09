"""The worker's platform housekeeping on each database: webhook health and reconciliation of
enrolled shops in every pass, never of shops nobody enrolled, and never in the way of sending.

A fake platform stands in the connector registry (its store API scripted, its normalizers
the real ones), so the worker runs exactly as in production.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, OutboxEntry, ShopSync
from bridge.services.install import connect_woocommerce
from bridge.services.sync_schedule import enroll
from bridge.worker import run
from connectors.base import ChangePage
from connectors.registry import CONNECTORS
from tests.support.fake_platform import FakePlatform, shopify_checkout
from tests.support.shops import add_shopify_shop, add_woo_shop, checkout, post_shopify


@pytest.fixture
def platforms(monkeypatch) -> dict[str, FakePlatform]:
    fakes = {name: FakePlatform(name) for name in ("shopify", "woocommerce")}
    for name, fake in fakes.items():
        monkeypatch.setitem(CONNECTORS, name, fake.connector())
    return fakes


def outbox(runtime) -> list[OutboxEntry]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(OutboxEntry)))


def test_a_pass_reconciles_an_enrolled_shop_and_applies_what_it_found_at_once(runtime, clock, platforms):
    # given a shop added by hand and then enrolled (as its first `cartbridge sync` does), whose
    # platform holds a checkout no webhook brought
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as session:
        enroll(session, shop_id, clock())
    platforms["shopify"].pages["checkouts"] = [ChangePage((shopify_checkout("tok-1", clock()),))]
    # when one worker pass runs
    report = run(runtime, once=True)
    # then the shop was reconciled and the checkout is already a cart
    assert (report.synced, report.synced_records, report.deliveries) == (1, 1, 1)
    with unit_of_work(runtime.sessions) as session:
        assert session.scalars(select(Cart.external_id)).all() == ["tok-1"]
        assert session.get(ShopSync, shop_id).next_sync_at == clock() + timedelta(minutes=15)
    # and an hour later its first reminder goes out
    clock.advance(minutes=61)
    run(runtime, once=True)
    assert [m.to_email for m in outbox(runtime)] == ["anna@example.com"]


def test_a_pass_registers_the_webhooks_of_a_store_just_connected(runtime, clock, platforms):
    # given a store connected a moment ago
    with unit_of_work(runtime.sessions) as session:
        shop_id = connect_woocommerce(session, runtime.box, url="https://woo.example", consumer_key="ck",
                                      consumer_secret="cs", now=clock()).id
    # when one worker pass runs
    report = run(runtime, once=True)
    # then its three webhooks are registered at this deployment's address, and it was reconciled
    woo = platforms["woocommerce"]
    assert (report.webhooks_checked, report.synced) == (1, 1)
    assert {w.address for w in woo.webhooks.values()} == {f"{runtime.settings.public_url}/webhooks/woocommerce/{shop_id}"}
    assert len(woo.webhooks) == 3


def test_shops_nobody_enrolled_are_never_called(runtime, client, clock, platforms):
    # given shops added by hand with keys, one with a checkout to remind of
    add_shopify_shop(runtime)
    add_woo_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w1")
    # when the worker runs over a day
    for _ in range(3):
        run(runtime, once=True)
        clock.advance(hours=12)
    # then no platform was asked anything (no sync, no webhook check), and the reminders went out
    assert platforms["shopify"].calls == [] and platforms["woocommerce"].calls == []
    assert len(outbox(runtime)) == 2


def test_a_failing_housekeeping_job_does_not_stop_sending(runtime, client, clock, platforms, monkeypatch, log_text):
    # given a checkout whose first reminder is due, and reconciliation and webhook checks that crash
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w1")
    run(runtime, once=True)
    clock.advance(minutes=61)

    message = "-".join(("anna@example.com", "quoted", "by", "a", "driver"))

    def broken(*args, **kwargs):
        raise RuntimeError(message)
    monkeypatch.setattr("bridge.worker.sync_due", broken)
    monkeypatch.setattr("bridge.worker.health_due", broken)
    # when the worker passes
    run(runtime, once=True)
    # then the reminder went out anyway, and the failures are logged by job, without their message
    assert len(outbox(runtime)) == 1
    assert "code=sync_job_failed" in log_text() and "code=webhook_health_job_failed" in log_text()
    assert message not in log_text()
