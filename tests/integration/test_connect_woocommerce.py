"""Connecting a WooCommerce store in one click, on each database, against a local store.

The app runs on a live local server (the store POSTs the keys to it); the store's ``resolve``
maps our https PUBLIC_URL to that server, as DNS and TLS would. The merchant's browser is the
Flask test client; their click on Approve is the store server's ``approve``.
"""
from __future__ import annotations

import html as html_lib
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from bridge.db.engine import unit_of_work
from bridge.db.tables import InstallRequest, Shop, ShopSync, UserShop
from bridge.runtime import Runtime
from tests.conftest import make_settings
from tests.servers.woocommerce_api import WooCommerceTestServer
from tests.support.admin import add_user, session_token, sign_in
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop

PUBLIC = "https://cartbridge.test"
TOPICS = {"order.created", "order.updated", "order.deleted"}


@pytest.fixture
def runtime(database_url, tmp_path, clock):
    """The app as deployed behind https (WooCommerce sends keys only to an https callback)."""
    rt = Runtime.from_settings(make_settings(database_url, tmp_path, public_url=PUBLIC), now=clock)
    yield rt
    rt.close()


@pytest.fixture
def store(live_url):
    with WooCommerceTestServer(resolve={PUBLIC: live_url}) as server:
        yield server


@pytest.fixture
def user_id(runtime):
    return add_user(runtime, "agency@example.com")


@pytest.fixture
def csrf(client, user_id):
    return sign_in(client, "agency@example.com")


def local(url: str) -> str:
    """The path and query of one of our public URLs, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def start(client, csrf: str, typed: str):
    return client.post("/admin/woocommerce/connect", data={"store_url": typed, "csrf_token": csrf})


def connect(client, csrf: str, store) -> tuple[str, str]:
    """Type the URL, approve in the store; (authorize URL, where the store sends the browser back)."""
    authorize = start(client, csrf, store.url).headers["Location"]
    status, back = store.approve(authorize)
    assert status == 302, status
    return authorize, back


def shops(runtime) -> list[Shop]:
    with runtime.sessions() as db:
        return list(db.scalars(select(Shop).order_by(Shop.id)))


def test_a_store_connects_in_one_click_and_gets_our_three_webhooks(runtime, client, store, user_id, csrf):
    # given a signed-in agency user on the connect page, linked from the Shops page
    assert 'href="/admin/woocommerce/connect"' in client.get("/admin/shops").get_data(as_text=True)
    # when they type the store's address as copied from its admin
    started = start(client, csrf, f"{store.url}/wp-admin/")
    # then they go to the store's approval page asking for Read/Write keys for cartbridge
    assert started.status_code == 303
    authorize = started.headers["Location"]
    assert authorize.startswith(f"{store.url}/wc-auth/v1/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert (query["app_name"], query["scope"]) == (["cartbridge"], ["read_write"])
    assert query["return_url"] == [f"{PUBLIC}/admin/woocommerce/return"]
    assert query["callback_url"] == [f"{PUBLIC}/webhooks/woocommerce/auth"]
    # when they approve there
    status, back = store.approve(authorize)
    # then the store posted the keys to our callback and sends them back to us
    assert status == 302 and back.startswith(f"{PUBLIC}/admin/woocommerce/return?")
    [posted] = store.callbacks
    assert posted.status == 200
    [shop] = shops(runtime)
    [key] = store.keys
    assert (shop.platform, shop.domain, shop.webhooks_managed_by) == ("woocommerce", store.url, "cartbridge")
    assert runtime.box.open(shop.consumer_key_enc) == key.consumer_key
    assert runtime.box.open(shop.consumer_secret_enc) == key.consumer_secret
    assert key.consumer_secret.encode() not in bytes(shop.consumer_secret_enc)
    # when the browser arrives back
    landed = client.get(local(back))
    # then our three webhooks are registered with the shop's own secret, pinged through to us
    assert landed.status_code == 303
    assert landed.headers["Location"] == f"/admin/shops/{shop.id}/settings?notice=connected"
    hooks = store.webhooks
    assert {h["topic"] for h in hooks} == TOPICS and len(hooks) == 3
    secret = runtime.box.open(shop.webhook_secret_enc)
    assert {(h["delivery_url"], h["secret"], h["status"]) for h in hooks} == {
        (f"{PUBLIC}/webhooks/woocommerce/{shop.id}", secret, "active")}
    assert sorted(status for _, status in store.pings) == [200, 200, 200]
    with runtime.sessions() as db:
        assert set(db.get(ShopSync, shop.id).webhook_ids) == TOPICS
        assert db.scalar(select(UserShop.shop_id).where(UserShop.user_id == user_id)) == shop.id
    # and the settings page (the user's now) says so
    page = html_lib.unescape(client.get(landed.headers["Location"]).get_data(as_text=True))
    assert "Connected. 3 webhooks registered." in page
    assert "cartbridge, through the platform's API" in page and "Disconnect the store" in page


def test_a_forged_or_unknown_nonce_stores_nothing(runtime, client, store, csrf):
    # given a callback body naming a nonce we never handed out
    body = {"key_id": 9, "user_id": "made-up-nonce", "consumer_key": "ck_" + "a" * 40,
            "consumer_secret": "cs_" + "b" * 40, "key_permissions": "read_write"}
    # when it is posted to our callback, or posted with no JSON at all
    forged = client.post("/webhooks/woocommerce/auth", json=body)
    garbage = client.post("/webhooks/woocommerce/auth", data=b"consumer_key=ck_x")
    # then both are refused and no shop exists
    assert (forged.status_code, garbage.status_code) == (400, 400)
    assert forged.get_json() == {"status": "unknown_request"}
    assert shops(runtime) == []


def test_a_replayed_callback_is_refused_and_changes_nothing(runtime, client, store, csrf):
    # given a store connected once
    connect(client, csrf, store)
    [first] = shops(runtime)
    # when the same key callback is posted again (a replay), even with other keys in it
    replay = {**store.callbacks[0].body, "consumer_key": "ck_" + "c" * 40}
    answer = client.post("/webhooks/woocommerce/auth", json=replay)
    # then it is refused: the nonce was used once
    assert answer.status_code == 400
    [after] = shops(runtime)
    assert runtime.box.open(after.consumer_key_enc) == runtime.box.open(first.consumer_key_enc)


def test_a_request_older_than_an_hour_is_refused_by_the_callback(runtime, client, clock, store, csrf):
    # given a connection started, then left for more than an hour
    authorize = start(client, csrf, store.url).headers["Location"]
    clock.advance(hours=1, seconds=1)
    # when the merchant approves now
    status, back = store.approve(authorize)
    # then our callback refused the keys, the store deleted them and shows its error page
    assert (status, back) == (401, None)
    assert store.callbacks[0].status == 400 and store.keys == []
    assert shops(runtime) == []


def test_a_read_only_key_is_refused(runtime, client, store, csrf):
    # given a connection whose approval page was changed to ask for Read access only
    authorize = start(client, csrf, store.url).headers["Location"].replace("scope=read_write", "scope=read")
    # when the merchant approves it
    status, _ = store.approve(authorize)
    # then our callback refused the key and said why; nothing is stored
    [posted] = store.callbacks
    assert (status, posted.status) == (401, 400)
    assert shops(runtime) == []
    nonce = parse_qs(urlsplit(authorize).query)["user_id"][0]
    answer = client.post("/webhooks/woocommerce/auth", json={**posted.body, "user_id": nonce})
    assert answer.status_code == 400      # and its nonce is spent


def test_the_read_only_refusal_names_read_write(runtime, client, store, csrf):
    authorize = start(client, csrf, store.url).headers["Location"]
    nonce = parse_qs(urlsplit(authorize).query)["user_id"][0]
    body = {"key_id": 1, "user_id": nonce, "consumer_key": "ck_" + "d" * 40, "consumer_secret": "cs_" + "e" * 40,
            "key_permissions": "read"}
    answer = client.post("/webhooks/woocommerce/auth", json=body)
    assert answer.status_code == 400 and "Read/Write" in answer.get_json()["reason"]


def test_declining_in_woocommerce_comes_back_with_a_notice(runtime, client, store, csrf):
    # given a connection started
    authorize = start(client, csrf, store.url).headers["Location"]
    # when the merchant clicks Deny in the store
    back = client.get(local(store.deny(authorize)))
    # then they are back on the Shops page, told so, and nothing is connected
    assert back.status_code == 303 and back.headers["Location"] == "/admin/shops?notice=declined"
    assert "Connection declined in WooCommerce." in client.get(back.headers["Location"]).get_data(as_text=True)
    assert shops(runtime) == [] and store.keys == []


def test_a_bad_url_is_refused_next_to_the_field_and_kept(runtime, client, store, csrf):
    # when an http address of a public host is typed (the keys would travel in clear)
    response = start(client, csrf, "http://shop.example.com")
    # then the form comes back with the reason and what was typed
    page = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Store URL must be your WordPress site's address" in page
    assert 'value="http://shop.example.com"' in page
    with runtime.sessions() as db:
        assert db.scalar(select(func.count()).select_from(InstallRequest)) == 0


def test_the_connect_page_may_send_the_form_on_to_the_store(client, csrf):
    # CSP form-action also governs the redirect after a form post: the store is another origin
    response = client.get("/admin/woocommerce/connect")
    assert response.status_code == 200
    assert "form-action 'self' https: http:;" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_someone_elses_return_link_is_not_found(runtime, client, store, csrf):
    # given a store connected by the agency user
    _, back = connect(client, csrf, store)
    # when another signed-in user opens that return link
    add_user(runtime, "other@example.com")
    client.post("/admin/logout", data={"csrf_token": csrf})
    sign_in(client, "other@example.com")
    # then there is no such page for them, and no webhooks were registered
    assert client.get(local(back)).status_code == 404
    assert store.webhooks == []


def test_disconnecting_asks_first_then_removes_the_webhooks_and_the_keys(runtime, client, store, csrf):
    # given a connected store with its webhooks
    _, back = connect(client, csrf, store)
    client.get(local(back))
    [shop] = shops(runtime)
    assert len(store.webhooks) == 3
    # when the owner presses Disconnect
    asked = client.post(f"/admin/shops/{shop.id}/woocommerce/disconnect", data={"csrf_token": csrf})
    # then they are asked first, and nothing changed yet
    assert asked.status_code == 200 and "Disconnect this store?" in asked.get_data(as_text=True)
    assert len(store.webhooks) == 3
    # when they confirm
    done = client.post(f"/admin/shops/{shop.id}/woocommerce/disconnect",
                       data={"csrf_token": csrf, "confirm": "yes"})
    # then our webhooks are gone from the store and the keys from our database
    assert done.status_code == 303 and done.headers["Location"].endswith("notice=disconnected")
    assert store.webhooks == []
    [after] = shops(runtime)
    assert (after.consumer_key_enc, after.consumer_secret_enc, after.webhook_secret_enc) == (None, None, None)
    assert after.uninstalled_at == runtime.now()
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Disconnected." in page and "Disconnect the store" not in page
    # and a second disconnect has nothing to act on
    assert client.post(f"/admin/shops/{shop.id}/woocommerce/disconnect",
                       data={"csrf_token": csrf, "confirm": "yes"}).status_code == 404


def test_a_store_can_be_connected_again_after_a_disconnect(runtime, client, store, csrf):
    # given a store connected, then disconnected
    _, back = connect(client, csrf, store)
    client.get(local(back))
    [shop] = shops(runtime)
    client.post(f"/admin/shops/{shop.id}/woocommerce/disconnect", data={"csrf_token": csrf, "confirm": "yes"})
    # when it is connected again
    _, back = connect(client, csrf, store)
    landed = client.get(local(back))
    # then it is the same shop, active again, with fresh keys and its three webhooks
    [again] = shops(runtime)
    assert again.id == shop.id and again.uninstalled_at is None and again.consumer_key_enc is not None
    assert landed.headers["Location"].endswith("notice=connected")
    assert {h["topic"] for h in store.webhooks} == TOPICS and len(store.webhooks) == 3


def test_an_embedded_shopify_viewer_has_no_connect_page(runtime, client):
    # given a Shopify shop's staff inside the Shopify admin
    shop_id = add_shopify_shop(runtime)
    token = session_token(SHOP_DOMAIN)
    # when they open the connect page with their session token
    response = client.get(f"/admin/woocommerce/connect?embedded=1&shop={SHOP_DOMAIN}&id_token={token}")
    # then it does not exist for them
    assert response.status_code == 404
    with unit_of_work(runtime.sessions) as db:
        assert db.get(Shop, shop_id).platform == "shopify"


def test_a_deployment_without_https_says_why_it_cannot_connect_a_store(runtime, client, csrf):
    # given cartbridge reached over plain http (WooCommerce posts keys only to https)
    from dataclasses import replace
    runtime.settings = replace(runtime.settings, public_url="http://127.0.0.1:8000")
    # when the connect page is opened, and the form posted anyway
    page = client.get("/admin/woocommerce/connect").get_data(as_text=True)
    posted = start(client, csrf, "https://shop.example.com")
    # then the page names the problem and nothing is started
    assert "WooCommerce sends them only to an https address" in page
    assert posted.status_code == 503 and "Location" not in posted.headers
    with runtime.sessions() as db:
        assert db.scalar(select(func.count()).select_from(InstallRequest)) == 0
