"""A shop's own SendGrid key is what its reminders are sent with, through the real `sendgrid`
library against the local v3 Mail Send server; other shops use the instance's key."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from bridge.app import create_app
from bridge.channels.base import OutboundMessage, Outcome
from bridge.channels.routing import ShopKeyRoutingChannel, per_shop_sendgrid
from bridge.db.engine import unit_of_work
from bridge.db.tables import Message, Shop
from bridge.runtime import Runtime
from bridge.worker import run
from tests.conftest import make_settings
from tests.servers.sendgrid_api import SendGridTestServer
from tests.support.admin import add_user, sign_in
from tests.support.shops import add_shopify_shop, checkout, post_shopify

INSTANCE_KEY = "SG." + "i" * 22 + "." + "instance-key-" + "0" * 30
SHOP_KEY = "SG." + "s" * 22 + "." + "shop-own-key-" + "1" * 30
NEW_SHOP_KEY = "SG." + "n" * 22 + "." + "shop-new-key-" + "2" * 30
OTHER_DOMAIN = "other-shop.myshopify.com"


class KeyRecordingServer(SendGridTestServer):
    """The local SendGrid API knowing several accounts' keys; notes which key each accepted
    message carried (by our message id), so a test can tell which account sent it."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._request = threading.local()   # the key of the request this thread handles
        super().__init__(api_key=keys[0])
        self.keys = keys
        self.carried: dict[str, str] = {}

    @property
    def api_key(self) -> str:
        return getattr(self._request, "key", None) or self._first

    @api_key.setter
    def api_key(self, value: str) -> None:
        self._first = value

    def _handle(self, rq) -> None:
        sent = rq.headers.get("Authorization", "").removeprefix("Bearer ")
        self._request.key = sent if sent in self.keys else None
        super()._handle(rq)

    def _accept(self, rq, body: dict, fault) -> None:
        with self._lock:
            self.carried[body["custom_args"]["message_id"]] = self._request.key
        super()._accept(rq, body, fault)


@pytest.fixture
def server():
    with KeyRecordingServer((INSTANCE_KEY, SHOP_KEY, NEW_SHOP_KEY)) as srv:
        yield srv


@pytest.fixture
def sendgrid_runtime(database_url, tmp_path, clock, server):
    settings = make_settings(database_url, tmp_path, sendgrid_api_key=INSTANCE_KEY, sendgrid_api_host=server.url)
    rt = Runtime.from_settings(settings, now=clock)
    yield rt
    rt.close()


def _set_key(runtime, shop_id: int, key: str | None) -> None:
    with unit_of_work(runtime.sessions) as session:
        session.get(Shop, shop_id).sendgrid_api_key_enc = runtime.box.seal(key)


def _message(shop_id: int, message_id: str) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, shop_id=shop_id, cart_id=1, step=1, to_email="olena@example.com",
                           from_email="shop@example.com", subject="Your cart", html="<p>Hi</p>", text="Hi")


def _shop_of_each_sent_message(runtime) -> dict[str, int]:
    with unit_of_work(runtime.sessions) as session:
        return {str(m.id): m.shop_id for m in session.scalars(select(Message))}


def test_a_shop_with_its_own_key_sends_with_it_and_another_shop_with_the_instance_key(
        sendgrid_runtime, server, clock):
    # given two shops, the first with its own SendGrid key, each with a cart abandoned an hour ago
    client = create_app({"TESTING": True}, runtime=sendgrid_runtime).test_client()
    own, other = add_shopify_shop(sendgrid_runtime), add_shopify_shop(sendgrid_runtime, OTHER_DOMAIN)
    _set_key(sendgrid_runtime, own, SHOP_KEY)
    post_shopify(client, "checkouts/create", checkout("tok-own", clock()), webhook_id="w-own")
    post_shopify(client, "checkouts/create", checkout("tok-other", clock()), webhook_id="w-other",
                 domain=OTHER_DOMAIN)
    run(sendgrid_runtime, once=True)
    clock.advance(minutes=61)
    # when the worker sends the first reminders through the configured channel
    run(sendgrid_runtime, once=True)
    # then each message went out with its own shop's account key
    shops = _shop_of_each_sent_message(sendgrid_runtime)
    assert len(server.accepted) == 2
    assert {shops[str(mail.body["custom_args"]["message_id"])]: server.carried[mail.body["custom_args"]["message_id"]]
            for mail in server.accepted} == {own: SHOP_KEY, other: INSTANCE_KEY}


def test_a_changed_key_is_used_once_the_key_cache_expires(sendgrid_runtime, server, clock):
    # given a shop with its own key and the routing channel the dispatcher uses
    shop_id = add_shopify_shop(sendgrid_runtime)
    _set_key(sendgrid_runtime, shop_id, SHOP_KEY)
    channel = per_shop_sendgrid(sendgrid_runtime)
    assert channel.send(_message(shop_id, "m1")).outcome is Outcome.SENT
    # when the merchant replaces the key, and the channel sends now and after the cache period
    _set_key(sendgrid_runtime, shop_id, NEW_SHOP_KEY)
    channel.send(_message(shop_id, "m2"))
    clock.advance(seconds=61)
    channel.send(_message(shop_id, "m3"))
    # then the old key served until the cache expired, the new one after
    assert server.carried == {"m1": SHOP_KEY, "m2": SHOP_KEY, "m3": NEW_SHOP_KEY}


def test_a_removed_key_falls_back_to_the_instance_key(sendgrid_runtime, server, clock):
    # given a shop whose key was used, then removed
    shop_id = add_shopify_shop(sendgrid_runtime)
    _set_key(sendgrid_runtime, shop_id, SHOP_KEY)
    channel = per_shop_sendgrid(sendgrid_runtime)
    channel.send(_message(shop_id, "before"))
    _set_key(sendgrid_runtime, shop_id, None)
    # when the next message is sent after the cache period
    clock.advance(minutes=2)
    channel.send(_message(shop_id, "after"))
    # then it carried the instance's key
    assert server.carried == {"before": SHOP_KEY, "after": INSTANCE_KEY}


def test_sends_from_many_threads_read_the_keys_once_per_cache_period(sendgrid_runtime, server, clock):
    # given two shops, each with its own key, and one routing channel
    first, second = add_shopify_shop(sendgrid_runtime), add_shopify_shop(sendgrid_runtime, OTHER_DOMAIN)
    _set_key(sendgrid_runtime, first, SHOP_KEY)
    _set_key(sendgrid_runtime, second, NEW_SHOP_KEY)
    channel = per_shop_sendgrid(sendgrid_runtime)
    # when 16 threads send at once for alternating shops
    ids = [(f"t{i}", first if i % 2 else second) for i in range(16)]
    threads = [threading.Thread(target=channel.send, args=(_message(shop, mid),)) for mid, shop in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # then every message carried its shop's key, through one channel per key
    assert server.carried == {mid: SHOP_KEY if shop == first else NEW_SHOP_KEY for mid, shop in ids}
    assert channel.channel_for(first) is channel.channel_for(first)
    assert channel.channel_for(first) is not channel.channel_for(second)


def test_the_outbox_keeps_every_message_even_when_a_shop_has_its_own_key(runtime, client, clock):
    # given an instance without SENDGRID_API_KEY (dev outbox) and a shop with its own key
    assert runtime.settings.sendgrid_api_key is None
    shop_id = add_shopify_shop(runtime)
    _set_key(runtime, shop_id, SHOP_KEY)
    # when the dispatcher is built
    dispatcher = runtime.dispatcher()
    # then the messages stay in the outbox: no routing to anyone's SendGrid account
    assert dispatcher.transactional
    assert not isinstance(dispatcher.channel_for(None), ShopKeyRoutingChannel)


def test_the_settings_page_says_the_instance_key_is_used_when_the_shop_has_none(sendgrid_runtime):
    # given an instance sending through SendGrid and a shop without its own key
    app = create_app({"TESTING": True}, runtime=sendgrid_runtime)
    client = app.test_client()
    shop_id = add_shopify_shop(sendgrid_runtime)
    add_user(sendgrid_runtime, shop_ids=[shop_id])
    sign_in(client)
    # when the settings page is opened
    html = client.get(f"/admin/shops/{shop_id}/settings").get_data(as_text=True)
    # then the key field says the instance's key is used, and never shows the instance's key
    assert "not set — the instance&#39;s key is used" in html
    assert INSTANCE_KEY not in html
