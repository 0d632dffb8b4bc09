"""Webhook subscriptions and reconciliation through the real ``woocommerce`` client against the
local store (``tests/servers/woocommerce_webhooks.py``, ``woocommerce_orders.py``); no database.

The app's webhook endpoint is played by a ``Receiver`` reached through the store's ``resolve``:
it answers the creation ping and the deliveries with scripted statuses.
"""
from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from woocommerce import API

from bridge.model import CartConverted, CartObserved, CartRemoved, Envelope
from connectors.base import CallOutcome, PlatformHttp, StoreCredentials, WebhookInfo
from connectors.woocommerce import CONNECTOR
from tests.servers.woocommerce_api import WooCommerceTestServer
from tests.servers.woocommerce_receiver import Receiver
from tests.support.fixtures import load_fixture

APP = "https://cartbridge.test"
ADDRESS = CONNECTOR.webhook_address(APP, 7)
SECRET = "3f9c1d0e-our-own-webhook-secret"
SITE_OFFSET = timedelta(hours=3)                  # a shop in Kyiv: its site time is GMT+3
SINCE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def app():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def store(app):
    with WooCommerceTestServer(utc_offset=SITE_OFFSET, resolve={APP: app.url}) as server:
        yield server


@pytest.fixture
def key(store):
    return store.add_key()


@pytest.fixture
def client(store, key):
    credentials = StoreCredentials(store.url, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret)
    return CONNECTOR.store_client(credentials, PlatformHttp(shopify=None, timeout=5.0))


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def _fixture_order(name: str) -> dict:
    return json.loads(load_fixture("woocommerce", name))


# --- creating, listing, deleting ----------------------------------------------------------------

def test_creating_a_webhook_pings_our_address_and_lists_it_active(store, app, client):
    # given a connected store
    # when we subscribe our address to order.updated with our secret
    created = client.create_webhook("order.updated", ADDRESS, SECRET)
    # then WooCommerce pinged our address with its unsigned form body, which our connector recognizes
    [ping] = app.received
    assert (ping.path, ping.body) == ("/webhooks/woocommerce/7", f"webhook_id={created.platform_id}".encode())
    assert CONNECTOR.handshake(ping.headers, ping.body)
    # and the webhook is listed, active, with our address and topic, named as ours
    assert created.outcome == CallOutcome.DONE
    listed = client.list_webhooks()
    assert (listed.outcome, listed.calls) == (CallOutcome.DONE, 1)
    assert listed.data == (WebhookInfo(created.platform_id, "order.updated", ADDRESS, True, "active"),)
    assert store.webhook(created.platform_id)["name"] == "cartbridge order.updated"
    assert store.webhook(created.platform_id)["pending_delivery"] is False


def test_the_secret_is_stored_by_woocommerce_but_never_shown(store, key, client):
    # given a webhook we created with our secret
    created = client.create_webhook("order.created", ADDRESS, SECRET)
    # when anyone reads it back through the API
    api = API(url=store.url, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret, version="wc/v3")
    shown = api.get(f"webhooks/{created.platform_id}").json()
    # then the store signs with it, but no answer carries it
    assert store.webhook(created.platform_id)["secret"] == SECRET
    assert "secret" not in shown and SECRET not in json.dumps(shown)
    assert (shown["resource"], shown["event"], shown["hooks"]) == ("order", "created", ["woocommerce_new_order"])


def test_a_failed_ping_does_not_fail_the_rest_creation_and_the_next_save_pings_again(store, app, client):
    # given our endpoint fails the creation ping
    app.answer_next(503)
    # when we create the webhook
    created = client.create_webhook("order.deleted", ADDRESS, SECRET)
    # then WooCommerce still answered 201 with an active webhook, left pending
    assert created.outcome == CallOutcome.DONE
    assert store.webhook(created.platform_id)["status"] == "active"
    assert store.webhook(created.platform_id)["pending_delivery"] is True
    # and saving it again (switching it on) pings once more, which now clears it
    assert client.enable_webhook(created.platform_id).outcome == CallOutcome.DONE
    assert [status for _, status in store.pings] == [503, 200]
    assert store.webhook(created.platform_id)["pending_delivery"] is False


@pytest.mark.parametrize("topic, address, message", [
    ("order.paid", ADDRESS, "Webhook topic is required and must be valid."),
    ("order.updated", "ftp://cartbridge.test/hook", "Webhook delivery URL must be a valid URL"),
])
def test_an_invalid_topic_or_address_is_refused_with_woocommerces_message(store, client, topic, address, message):
    # when we create a webhook WooCommerce cannot have
    result = client.create_webhook(topic, address, SECRET)
    # then it is refused in WooCommerce's words, and nothing exists
    assert result.outcome == CallOutcome.REFUSED and message in result.error
    assert store.webhooks == []


def test_a_webhook_is_never_created_without_our_secret(store, client):
    # when a webhook is asked for without a secret (WooCommerce would invent one we never see)
    result = client.create_webhook("order.updated", ADDRESS, None)
    # then nothing is sent
    assert (result.outcome, result.calls) == (CallOutcome.REFUSED, 0) and store.webhooks == []


def test_deleting_removes_the_webhook_and_a_second_delete_is_absent(store, client):
    # given our webhook
    created = client.create_webhook("order.updated", ADDRESS, SECRET)
    # when it is deleted twice
    first, second = client.delete_webhook(created.platform_id), client.delete_webhook(created.platform_id)
    # then it is gone for good (force=true: webhooks have no trash), and the second finds nothing
    assert (first.outcome, second.outcome) == (CallOutcome.DONE, CallOutcome.ABSENT)
    assert store.webhooks == [] and client.list_webhooks().data == ()


def test_woocommerce_refuses_to_trash_a_webhook(store, key, client):
    # given a webhook
    created = client.create_webhook("order.updated", ADDRESS, SECRET)
    # when someone deletes it without force
    api = API(url=store.url, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret, version="wc/v3")
    answer = api.delete(f"webhooks/{created.platform_id}")
    # then WooCommerce says webhooks do not support trashing, and it stays
    assert (answer.status_code, answer.json()["code"]) == (501, "woocommerce_rest_trash_not_supported")
    assert len(store.webhooks) == 1


def test_enabling_a_webhook_that_is_gone_is_absent(store, client):
    # when a webhook id the store no longer has is switched on
    result = client.enable_webhook("404")
    # then it is absent (the health job creates a new one)
    assert result.outcome == CallOutcome.ABSENT


def test_the_list_follows_every_page_and_shows_other_integrations_webhooks_too(store, client):
    # given 150 webhooks of another integration and one of ours
    for n in range(150):
        store.add_webhook("order.created", f"https://other.example/hooks/{n}")
    ours = client.create_webhook("order.updated", ADDRESS, SECRET)
    # when the webhooks are listed
    listed = client.list_webhooks()
    # then both pages were read and ours is among all of them
    assert (listed.outcome, listed.calls, len(listed.data)) == (CallOutcome.DONE, 2, 151)
    assert [w.address for w in listed.data if w.platform_id == ours.platform_id] == [ADDRESS]


def test_a_read_only_key_cannot_subscribe(store):
    # given a key with Read permission only
    read_only = store.add_key(permissions="read")
    client = CONNECTOR.store_client(StoreCredentials(store.url, consumer_key=read_only.consumer_key,
                                                     consumer_secret=read_only.consumer_secret), PlatformHttp(None))
    # when we subscribe
    result = client.create_webhook("order.updated", ADDRESS, SECRET)
    # then the merchant is told the key cannot write
    assert result.outcome == CallOutcome.REFUSED and "lacks write permission" in result.error


# --- deliveries ---------------------------------------------------------------------------------

def test_a_delivery_is_signed_with_our_secret_and_reads_as_an_order_event(store, app, client):
    # given our order.updated webhook and a pending order
    created = client.create_webhook("order.updated", ADDRESS, SECRET)
    order = _fixture_order("order_updated__pending.json")
    # when WooCommerce delivers it
    [delivery] = store.deliver("order.updated", order)
    # then our connector verifies the raw bytes and normalizes the body into the cart
    received = app.received[-1]
    assert delivery.status == 200 and received.body == delivery.body
    assert b"\\/" in received.body                       # PHP's escaped slashes, signed as sent
    assert CONNECTOR.verify(received.headers, received.body, [SECRET]).ok
    envelope = CONNECTOR.read_envelope("7", received.headers, received.body)
    assert (envelope.topic, envelope.extra["webhook_id"]) == ("order.updated", created.platform_id)
    event = CONNECTOR.normalize(envelope, json.loads(received.body))
    assert isinstance(event, CartObserved) and event.snapshot.external_id == str(order["id"])


def test_a_delivery_of_a_stores_order_carries_its_state_at_delivery_time(store, app, client):
    # given our order.created webhook and an order that was paid before the delivery ran
    created = client.create_webhook("order.created", ADDRESS, SECRET)
    order = store.add_order("pending", email="olena@example.com")
    store.update_order(order["id"], status="processing")
    # when WooCommerce delivers order.created for it
    [delivery] = store.deliver(created.platform_id, order["id"])
    # then the body already shows it paid
    assert json.loads(app.received[-1].body)["status"] == "processing" and delivery.sent


def test_seven_consecutive_failures_disable_the_webhook_and_enabling_brings_it_back(store, app, client):
    # given our webhook, and an endpoint failing every delivery
    created = client.create_webhook("order.updated", ADDRESS, SECRET)
    app.default_status = 500
    order = _fixture_order("order_updated__pending.json")
    # when six deliveries fail, the webhook is still active; the seventh disables it
    for _ in range(6):
        store.deliver("order.updated", order)
    assert store.webhook(created.platform_id)["status"] == "active"
    store.deliver("order.updated", order)
    # then it is listed disabled, and the next one is not even sent
    [listed] = client.list_webhooks().data
    assert (listed.active, listed.status) == (False, "disabled")
    [skipped] = store.deliver("order.updated", order)
    assert skipped.sent is False and len(app.received) == 1 + 7
    # when we switch it back on and our endpoint answers again
    app.default_status = 200
    assert client.enable_webhook(created.platform_id).outcome == CallOutcome.DONE
    [delivered] = store.deliver("order.updated", order)
    # then deliveries arrive again and the failure count is reset
    assert delivered.status == 200 and store.webhook(created.platform_id)["failure_count"] == 0


def test_a_re_enabled_webhook_is_disabled_again_by_its_next_failure(store, app, client):
    # given a webhook disabled after seven failures, switched back on (the count stays at 6)
    created = client.create_webhook("order.updated", ADDRESS, SECRET)
    app.default_status = 500
    for _ in range(7):
        store.deliver("order.updated", {"id": 1})
    client.enable_webhook(created.platform_id)
    # when the very next delivery fails too
    store.deliver("order.updated", {"id": 1})
    # then WooCommerce disables it at once: only a success resets the count
    assert store.webhook(created.platform_id)["status"] == "disabled"


def test_a_dropped_delivery_is_never_sent_and_counts_no_failure(store, app, client):
    # given our webhook and a store that loses the next delivery
    created = client.create_webhook("order.updated", ADDRESS, SECRET)
    store.drop_deliveries(True)
    # when an order changes
    [dropped] = store.deliver("order.updated", {"id": 5})
    # then nothing reached us (the ping only), and the webhook is as healthy as before
    assert (dropped.sent, dropped.error) == (False, "dropped") and len(app.received) == 1
    assert store.webhook(created.platform_id)["failure_count"] == 0


def test_an_order_deleted_delivery_carries_only_the_id(store, app, client):
    # given our order.deleted webhook
    client.create_webhook("order.deleted", ADDRESS, SECRET)
    # when an order is deleted
    store.deliver("order.deleted", _fixture_order("order_updated__pending.json"))
    # then the body is only its id, and reads as a removal
    received = app.received[-1]
    assert received.body == b'{"id":3082}'
    envelope = CONNECTOR.read_envelope("7", received.headers, received.body)
    assert isinstance(CONNECTOR.normalize(envelope, json.loads(received.body)), CartRemoved)


# --- reconciliation: orders modified since ------------------------------------------------------

def _add_modified(store, count: int, start: datetime) -> list[dict]:
    moments = [start + timedelta(seconds=n) for n in range(count)]
    random.Random(7).shuffle(moments)                   # stored in no particular order
    return [store.add_order("pending", email=f"c{n}@example.com", date_modified_gmt=_gmt(moment))
            for n, moment in enumerate(moments)]


def test_changes_pages_through_every_modified_order_oldest_first(store, client):
    # given 250 orders modified after the last sync, and 5 before it
    _add_modified(store, 5, SINCE - timedelta(hours=1))
    _add_modified(store, 250, SINCE)
    # when the changes are read page after page
    pages, cursor = [], None
    while True:
        result = client.changes("orders", SINCE, cursor)
        assert result.outcome == CallOutcome.DONE
        pages.append(result.data)
        cursor = result.data.next_cursor
        if cursor is None:
            break
    # then three pages of 100, 100 and 50 came, told the total, oldest change first
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert [p.next_cursor for p in pages] == ["2", "3", None] and {p.total for p in pages} == {250}
    items = [item for page in pages for item in page.items]
    modified = [item.payload["date_modified_gmt"] for item in items]
    assert modified == sorted(modified) and modified[0] == _gmt(SINCE)
    assert len({item.key for item in items}) == 250
    assert all(item.topic == "order.updated" for item in items)
    assert items[0].key == f"order.updated:{items[0].payload['id']}:{_gmt(SINCE)}"


def test_changes_asks_for_naive_gmt_so_a_shop_in_another_timezone_loses_nothing(store, key, client):
    # given a shop at GMT+3 with an order modified 30 minutes after the last sync
    [order] = _add_modified(store, 1, SINCE + timedelta(minutes=30))
    # when the changes are read
    result = client.changes("orders", SINCE)
    # then the order is there
    assert [item.payload["id"] for item in result.data.items] == [order["id"]]
    # while the same question with an explicit offset is read in site time by WordPress and misses it
    api = API(url=store.url, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret, version="wc/v3")
    with_offset = api.get("orders", params={"modified_after": SINCE.isoformat(), "dates_are_gmt": "true"}).json()
    assert with_offset == []


def test_an_order_changed_later_comes_back_with_a_new_key(store, client):
    # given an order read by the last sync
    [order] = _add_modified(store, 1, SINCE)
    [first] = client.changes("orders", SINCE).data.items
    # when it is changed in the store (paid, say)
    store.update_order(order["id"], modified_at=SINCE + timedelta(minutes=5), status="processing")
    [again] = client.changes("orders", SINCE + timedelta(minutes=1)).data.items
    # then it comes back, paid, as a different version of the record
    assert again.payload["status"] == "processing" and again.key != first.key


def test_every_status_but_trash_is_read_back_and_the_normalizer_accepts_each(store, client):
    # given real order bodies in every status a cart or an order can be in, modified since the last sync
    names = ["order_updated__pending.json", "order_updated__failed.json", "order_updated__checkout_draft.json",
             "order_updated__processing.json", "order_created__completed.json", "order_updated__on_hold.json",
             "order_updated__cancelled.json", "order_updated__refunded.json", "order_updated__trash.json"]
    for n, name in enumerate(names):
        body = _fixture_order(name)
        body.pop("date_modified")                       # the store shows it from the new GMT moment
        body.update(id=9000 + n, date_modified_gmt=_gmt(SINCE + timedelta(minutes=n)))
        store.add_order(body.pop("status"), **body)
    # when the changes are read
    items = client.changes("orders", SINCE).data.items
    # then every order but the trashed one came, and each is understood as its webhook would be
    events = [CONNECTOR.normalize(Envelope("woocommerce", "7", item.topic, "sync:" + item.key), item.payload)
              for item in items]
    kinds = [type(event) for event in events]
    assert kinds == [CartObserved] * 3 + [CartConverted] * 3 + [CartRemoved] * 2
    assert {event.snapshot.external_id for event in events[:3]} == {"9000", "9001", "9002"}


@pytest.mark.parametrize("status, outcome", [(500, CallOutcome.RETRY), (429, CallOutcome.RETRY)])
def test_a_failed_read_of_changes_is_retried(store, client, status, outcome):
    # given the store fails the read
    store.fail_next(status)
    # when the changes are read
    result = client.changes("orders", SINCE)
    # then the sync tries again later
    assert result.outcome == outcome


def test_a_wrong_secret_is_refused_when_reading_changes(store, key):
    # given a client signing with a wrong secret
    client = CONNECTOR.store_client(StoreCredentials(store.url, consumer_key=key.consumer_key,
                                                     consumer_secret="cs_" + "0" * 40), PlatformHttp(None))
    # when the changes are read
    result = client.changes("orders", SINCE)
    # then the merchant is asked to reconnect
    assert result.outcome == CallOutcome.REFUSED and "reconnect the store" in result.error


def test_woocommerce_has_no_checkouts_to_sync(store, client):
    # when anything but orders is asked for
    result = client.changes("checkouts", SINCE)
    # then nothing is sent
    assert (result.outcome, result.calls) == (CallOutcome.REFUSED, 0) and store.seen == []
