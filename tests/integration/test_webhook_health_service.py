"""Webhook health (bridge.services.webhook_health) on each database, against a scripted fake
platform: registering, re-enabling and recreating our subscriptions, what the merchant is
told, and disconnecting a store."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import ReminderStep, Shop, ShopSync
from bridge.services.inbox import process_inbox
from bridge.services.install import connect_woocommerce, install_shopify
from bridge.services.webhook_health import check_webhooks, disconnect_woocommerce, health_due, remove_webhooks
from bridge.services.webhook_notes import SHOPIFY_MANAGED_NOTE
from connectors.base import CallOutcome, StoreResult, TokenSet
from connectors.registry import CONNECTORS
from tests.support.fake_platform import FakePlatform
from tests.support.fixtures import load_fixture
from tests.support.shops import add_woo_shop, post_woo

PUBLIC_URL = "https://bridge.example.com"
STORE = "https://woo.example"
WOO_TOPICS = ["order.created", "order.deleted", "order.updated"]
HOUR = timedelta(hours=1)


def connected(runtime, clock) -> int:
    with unit_of_work(runtime.sessions) as session:
        return connect_woocommerce(session, runtime.box, url=STORE, consumer_key="ck", consumer_secret="cs",
                                   now=clock()).id


def installed(runtime, clock, managed_by: str) -> int:
    with unit_of_work(runtime.sessions) as session:
        return install_shopify(session, runtime.box, domain="hq.myshopify.com", tokens=TokenSet("shpat_x"),
                               scopes=None, now=clock(), managed_by=managed_by).id


def check(runtime, fake: FakePlatform, shop_id: int):
    return check_webhooks(runtime.sessions, fake.access(runtime), {fake.platform: fake.connector()}, PUBLIC_URL,
                          shop_id, runtime.now())


def state(runtime, shop_id: int) -> ShopSync:
    with unit_of_work(runtime.sessions) as session:
        return session.get(ShopSync, shop_id)


def address(shop_id: int) -> str:
    return f"{PUBLIC_URL}/webhooks/woocommerce/{shop_id}"


def registered(runtime, clock) -> tuple[FakePlatform, int]:
    """A connected store whose three webhooks the first check registered."""
    woo = FakePlatform("woocommerce")
    shop_id = connected(runtime, clock)
    check(runtime, woo, shop_id)
    woo.calls.clear()
    return woo, shop_id


# registering and mending

def test_the_first_check_of_a_connected_store_registers_our_three_webhooks_with_its_secret(runtime, clock):
    # given a store just connected, with no webhook of ours yet
    woo = FakePlatform("woocommerce")
    shop_id = connected(runtime, clock)
    # when its webhooks are checked
    result = check(runtime, woo, shop_id)
    # then the three order topics are subscribed at the store's own address, signed with its secret
    assert sorted(result.registered) == WOO_TOPICS
    assert (result.created, result.enabled, result.error) == ([], {}, None)
    assert sorted((w.topic, w.address) for w in woo.webhooks.values()) == [(t, address(shop_id)) for t in WOO_TOPICS]
    with unit_of_work(runtime.sessions) as session:
        secret = runtime.box.open(session.get(Shop, shop_id).webhook_secret_enc)
    assert set(woo.secrets.values()) == {secret}
    # and their ids are remembered for a disconnect; a first registration is nothing to tell the merchant
    after = state(runtime, shop_id)
    assert after.webhook_ids == {w.topic: w.platform_id for w in woo.webhooks.values()}
    assert (after.health_note, after.health_checked_at) == (None, clock())


def test_a_webhook_woocommerce_disabled_is_switched_back_on_and_the_merchant_told(runtime, clock, log_text):
    # given a store whose order.updated webhook WooCommerce disabled after failed deliveries
    woo, shop_id = registered(runtime, clock)
    disabled = state(runtime, shop_id).webhook_ids["order.updated"]
    woo.webhooks[disabled] = replace(woo.webhooks[disabled], active=False, status="disabled")
    clock.advance(hours=2)
    # when the health check runs
    result = check(runtime, woo, shop_id)
    # then that webhook is active again, and nothing else was touched
    assert result.enabled == {"order.updated": "disabled"}
    assert woo.methods() == ["list_webhooks", "enable_webhook"]
    assert woo.webhooks[disabled].active
    # and the merchant reads what happened, and the gap is reconciled at once
    after = state(runtime, shop_id)
    assert after.health_note == ("WooCommerce had disabled the order.updated webhook after repeated failed "
                                 "deliveries; cartbridge switched it back on at 2026-11-23 12:00 UTC. "
                                 "Reconciliation filled the gap.")
    assert (after.health_note_at, after.next_sync_at) == (clock(), clock())
    assert "code=webhook_reenabled" in log_text()


def test_a_missing_subscription_of_ours_is_recreated_and_the_merchant_told(runtime, clock):
    # given a Shopify shop whose subscriptions cartbridge created, one of which has gone
    shopify = FakePlatform("shopify")
    shop_id = installed(runtime, clock, "cartbridge")
    check(runtime, shopify, shop_id)
    gone = state(runtime, shop_id).webhook_ids["orders/create"]
    del shopify.webhooks[gone]
    # when the health check runs
    result = check(runtime, shopify, shop_id)
    # then it is subscribed again under a new id, which is remembered
    assert result.created == ["orders/create"]
    new_id = state(runtime, shop_id).webhook_ids["orders/create"]
    assert new_id != gone and shopify.webhooks[new_id].address == f"{PUBLIC_URL}/webhooks/shopify"
    assert state(runtime, shop_id).health_note == (
        "The orders/create webhook subscription was missing; cartbridge recreated it at 2026-11-23 10:00 UTC. "
        "Reconciliation filled the gap.")


def test_healthy_webhooks_are_left_alone_and_other_apps_webhooks_are_not_ours(runtime, clock):
    # given a store with our three webhooks, and another app's disabled webhook for the same topic
    woo, shop_id = registered(runtime, clock)
    woo.add_webhook("order.updated", "https://other-app.example/hook", status="disabled")
    # when the health check runs
    result = check(runtime, woo, shop_id)
    # then only the list was read
    assert woo.methods() == ["list_webhooks"]
    assert (result.registered, result.created, result.enabled, result.mended) == ([], [], {}, False)


def test_a_shopify_shop_whose_subscriptions_live_in_the_app_toml_is_not_called(runtime, clock):
    # given a shop installed the Shopify-managed way
    shopify = FakePlatform("shopify")
    shop_id = installed(runtime, clock, "shopify")
    # when its webhooks are checked
    result = check(runtime, shopify, shop_id)
    # then the API is not asked (it does not list app-specific subscriptions), and the page says why
    assert shopify.calls == []
    assert result.skipped == "webhooks managed by shopify"
    assert state(runtime, shop_id).health_note == SHOPIFY_MANAGED_NOTE


def test_a_store_whose_webhooks_nobody_manages_is_not_called(runtime, clock):
    # given a store added by hand (its owner registered the webhooks)
    woo = FakePlatform("woocommerce")
    shop_id = add_woo_shop(runtime)
    # when its webhooks are checked / then nothing is called and nothing noted
    assert check(runtime, woo, shop_id).skipped == "webhooks managed by nobody"
    assert woo.calls == []
    assert state(runtime, shop_id).health_note is None


def test_an_unreachable_platform_is_retried_at_the_next_check_without_a_note(runtime, clock):
    # given a connected store whose platform does not answer
    woo = FakePlatform("woocommerce")
    shop_id = connected(runtime, clock)
    woo.fail["list_webhooks"] = StoreResult(CallOutcome.RETRY, error="connect timeout")
    # when its webhooks are checked
    result = check(runtime, woo, shop_id)
    # then the failure is in the result, but the merchant is not alarmed by a blip
    assert result.error == "list: connect timeout"
    assert state(runtime, shop_id).health_note is None


def test_a_refusal_is_told_to_the_merchant(runtime, clock):
    # given a connected store whose keys may no longer manage webhooks
    woo = FakePlatform("woocommerce")
    shop_id = connected(runtime, clock)
    woo.fail["create_webhook"] = StoreResult(CallOutcome.REFUSED, error="Sorry, you are not allowed to create resources.")
    # when its webhooks are checked
    check(runtime, woo, shop_id)
    # then the page says which webhook could not be made, and why
    note = state(runtime, shop_id).health_note
    assert note.startswith("cartbridge could not repair the order.created webhook (Sorry, you are not allowed "
                           "to create resources.); it tries again at the next check.")


# the schedule

def test_the_schedule_checks_managed_shops_when_due_and_then_an_interval_later(runtime, clock):
    # given a connected store (due now) and a store added by hand
    woo = FakePlatform("woocommerce")
    shop_id = connected(runtime, clock)
    add_woo_shop(runtime, "https://by-hand.example")
    connectors = {"woocommerce": woo.connector()}
    # when the schedule runs now and again within the hour
    first = health_due(runtime.sessions, woo.access(runtime), connectors, PUBLIC_URL, clock(), HOUR)
    clock.advance(minutes=59)
    second = health_due(runtime.sessions, woo.access(runtime), connectors, PUBLIC_URL, clock(), HOUR)
    # then only the connected store was checked, once
    assert [r.shop_id for r in first] == [shop_id] and second == []
    assert state(runtime, shop_id).next_health_at == clock() - timedelta(minutes=59) + HOUR


# removing and disconnecting

def test_removing_deletes_the_webhooks_we_registered_and_counts_one_already_gone_as_removed(runtime, clock):
    # given a store with our three webhooks, one of which its owner deleted already
    woo, shop_id = registered(runtime, clock)
    del woo.webhooks[state(runtime, shop_id).webhook_ids["order.deleted"]]
    woo.add_webhook("order.updated", "https://other-app.example/hook")
    # when ours are removed
    result = remove_webhooks(runtime.sessions, woo.access(runtime), {"woocommerce": woo.connector()}, shop_id)
    # then all three count as removed, the other app's stays, and none is remembered any more
    assert (sorted(result.removed), result.failed) == (WOO_TOPICS, {})
    assert [w.address for w in woo.webhooks.values()] == ["https://other-app.example/hook"]
    assert state(runtime, shop_id).webhook_ids == {}


def test_a_webhook_that_could_not_be_removed_stays_remembered(runtime, clock):
    # given a store whose platform refuses deletes
    woo, shop_id = registered(runtime, clock)
    woo.fail["delete_webhook"] = StoreResult(CallOutcome.RETRY, error="HTTP 502")
    # when ours are removed / then the failure says why, and the ids are kept for another try
    result = remove_webhooks(runtime.sessions, woo.access(runtime), {"woocommerce": woo.connector()}, shop_id)
    assert result.failed == dict.fromkeys(WOO_TOPICS, "HTTP 502")
    assert sorted(state(runtime, shop_id).webhook_ids) == WOO_TOPICS


def test_disconnecting_a_store_removes_our_webhooks_forgets_its_keys_and_stops_its_reminders(
        runtime, client, clock):
    # given a connected store with a pending cart whose reminders are planned
    woo, shop_id = registered(runtime, clock)
    with unit_of_work(runtime.sessions) as session:
        secret = runtime.box.open(session.get(Shop, shop_id).webhook_secret_enc)
    order = json.loads(load_fixture("woocommerce", "order_updated__pending.json"))
    order["date_modified_gmt"] = order["date_created_gmt"] = clock().strftime("%Y-%m-%dT%H:%M:%S")
    assert post_woo(client, shop_id, "order.updated", order, secret=secret).status_code == 200
    process_inbox(runtime.sessions, CONNECTORS, runtime.now, runtime.contacts())
    # when the merchant disconnects it
    result = disconnect_woocommerce(runtime.sessions, woo.access(runtime), {"woocommerce": woo.connector()},
                                    shop_id, clock())
    # then our webhooks are gone from the store
    assert sorted(result.removed) == WOO_TOPICS and woo.webhooks == {}
    # and the shop keeps no key or secret, is uninstalled now, and every reminder is cancelled
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        steps = set(session.scalars(select(ReminderStep.status).where(ReminderStep.shop_id == shop_id)))
    assert (shop.consumer_key_enc, shop.consumer_secret_enc, shop.webhook_secret_enc) == (None, None, None)
    assert (shop.status, shop.uninstalled_at) == ("uninstalled", clock())
    assert steps == {"cancelled"}
