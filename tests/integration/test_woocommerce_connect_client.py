"""Connecting a WooCommerce store: ``connectors.woocommerce_connect`` against the local store's
``/wc-auth/v1`` pages (``tests/servers/woocommerce_auth.py``), without the app or a database.

The app's https callback is played by a ``Receiver`` reached through the store's ``resolve``
(the test's stand-in for DNS + TLS); the keys it receives are then used with the real
``woocommerce`` client.
"""
from __future__ import annotations

import json
import socket
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from connectors.base import CallOutcome, PlatformHttp, StoreCredentials
from connectors.woocommerce import CONNECTOR
from connectors.woocommerce_connect import KeysGranted, authorize_url, read_callback, valid_store_url
from tests.servers.woocommerce_api import WooCommerceTestServer
from tests.servers.woocommerce_receiver import Receiver

APP = "https://cartbridge.test"
RETURN_URL, CALLBACK_URL = f"{APP}/admin/woocommerce/return", f"{APP}/webhooks/woocommerce/auth"
NONCE = "n0nce-Of-This-Request_42"


@pytest.fixture
def app():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def store(app):
    with WooCommerceTestServer(resolve={APP: app.url}) as server:
        yield server


def _authorize(store) -> str:
    """What our connect form redirects to."""
    return authorize_url(valid_store_url(store.url), "cartbridge", NONCE, RETURN_URL, CALLBACK_URL)


def _authorize_with(store, **overrides) -> str:
    """The same request with some arguments changed (as a broken or forged link would be)."""
    return f"{store.url}/wc-auth/v1/authorize?" + urlencode({**_args(), **overrides})


def _args() -> dict[str, str]:
    return {"app_name": "cartbridge", "scope": "read_write", "user_id": NONCE, "return_url": RETURN_URL,
            "callback_url": CALLBACK_URL}


# --- the approval page --------------------------------------------------------------------------

def test_the_authorize_url_opens_the_stores_approval_page_for_read_write_access(store):
    # given the URL our connect form redirects the merchant to
    url = _authorize(store)
    # when the merchant's browser opens it
    page = requests.get(url, timeout=5)
    # then the store asks to approve cartbridge with Read/Write access, with Approve and Deny
    assert page.status_code == 200
    assert "cartbridge would like to connect to your store" in page.text
    assert "<strong>Read/Write</strong>" in page.text and "View and manage coupons" in page.text
    assert 'class="button button-primary wc-auth-approve">Approve</a>' in page.text
    assert 'class="button wc-auth-deny">Deny</a>' in page.text


@pytest.mark.parametrize("overrides, message", [
    ({"app_name": ""}, "Error: Missing parameter app_name."),
    ({"user_id": ""}, "Error: Missing parameter user_id."),
    ({"scope": "admin"}, "Error: Invalid scope admin."),
    ({"callback_url": "http://cartbridge.test/webhooks/woocommerce/auth"},
     "Error: The callback_url needs to be over SSL."),
    ({"return_url": "https://"}, "Error: The https:// is not a valid URL."),
])
def test_a_malformed_authorize_request_is_refused_with_woocommerces_message(store, overrides, message):
    # given an authorize request with one argument wrong
    url = _authorize_with(store, **overrides)
    # when it is opened
    page = requests.get(url, timeout=5)
    # then the store answers with its "Access denied" page and no key exists
    assert page.status_code == 401 and message in page.text
    assert store.keys == []


def test_a_callback_url_without_scheme_is_read_as_https(store, app):
    # given a callback URL given without a scheme (WooCommerce prefixes https://)
    url = _authorize_with(store, callback_url="cartbridge.test/webhooks/woocommerce/auth")
    # when the merchant approves
    status, _ = store.approve(url)
    # then the keys went to the https callback
    assert status == 302 and [c.url for c in store.callbacks] == [CALLBACK_URL]


# --- approving and denying ----------------------------------------------------------------------

def test_approving_posts_the_keys_to_the_callback_and_sends_the_merchant_back_with_success(store, app):
    # given the merchant on the approval page
    url = _authorize(store)
    # when they approve
    status, location = store.approve(url)
    # then the keys were POSTed as JSON to our callback, and the browser goes to return_url with success=1
    [received] = app.received
    assert (received.method, received.path) == ("POST", "/webhooks/woocommerce/auth")
    assert received.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert received.headers["Host"] == "cartbridge.test"          # resolve keeps the name, as DNS would
    assert status == 302
    assert location == f"{RETURN_URL}?success=1&user_id={NONCE}"
    # and the body reads as the keys of our request, with the permissions asked for
    granted = read_callback(received.body)
    assert isinstance(granted, KeysGranted)
    assert (granted.user_id, granted.key_permissions, granted.key_id) == (NONCE, "read_write", 1)
    [key] = store.keys
    assert (granted.consumer_key, granted.consumer_secret) == (key.consumer_key, key.consumer_secret)


def test_the_granted_keys_work_with_the_rest_api(store, app):
    # given keys obtained by approving
    store.approve(_authorize(store))
    granted = read_callback(app.received[0].body)
    # when our client uses them
    client = CONNECTOR.store_client(StoreCredentials(valid_store_url(store.url), consumer_key=granted.consumer_key,
                                                     consumer_secret=granted.consumer_secret),
                                    PlatformHttp(shopify=None, timeout=5.0))
    result = client.list_webhooks()
    # then the store answers them
    assert (result.outcome, result.data) == (CallOutcome.DONE, ())


@pytest.mark.parametrize("answer", [500, 201, 302])
def test_a_callback_that_does_not_answer_200_deletes_the_key_and_shows_an_error(store, app, answer):
    # given our callback answers something else than 200
    app.answer_next(answer)
    # when the merchant approves
    status, location = store.approve(_authorize(store))
    # then WooCommerce deleted the key it had posted, and shows an error instead of redirecting
    assert (status, location) == (401, None)
    assert len(store.callbacks) == 1 and store.keys == []


def test_an_unreachable_callback_deletes_the_key(store):
    # given our app's address answers nothing (a closed port)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    store.resolve[APP] = f"http://127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    # when the merchant approves
    status, _ = store.approve(_authorize(store))
    # then the store reports the connection failure and keeps no key
    [callback] = store.callbacks
    assert status == 401 and callback.status is None and callback.error.startswith("cURL error 7")
    assert store.keys == []


def test_denying_sends_the_merchant_back_with_success_0_and_creates_nothing(store, app):
    # given the approval page
    url = _authorize(store)
    # when the merchant clicks Deny
    target = store.deny(url)
    # then the link leads back to our return URL saying no, and nothing was created or posted
    assert target == f"{RETURN_URL}?success=0&user_id={NONCE}"
    assert store.keys == [] and app.received == []


def test_the_grant_link_without_the_admins_nonce_is_refused(store, app):
    # given someone who crafts the grant URL without the logged-in admin's nonce
    url = f"{store.url}/wc-auth/v1/access_granted?" + urlencode(_args())
    # when it is opened
    page = requests.get(url, allow_redirects=False, timeout=5)
    # then nothing is granted
    assert page.status_code == 401 and "Invalid nonce verification" in page.text
    assert store.keys == [] and app.received == []


def test_the_return_url_keeps_its_own_query(store, app):
    # given a return URL that carries a query of its own
    url = authorize_url(store.url, "cartbridge", NONCE, f"{RETURN_URL}?shop=new", CALLBACK_URL)
    # when the merchant approves
    _, location = store.approve(url)
    # then success and user_id are added to it
    assert parse_qs(urlsplit(location).query) == {"shop": ["new"], "success": ["1"], "user_id": [NONCE]}


def test_the_callback_body_is_exactly_wc_auths_five_fields(store, app):
    # when the merchant approves
    store.approve(_authorize(store))
    # then the body has WC_Auth::create_keys' fields, user_id as we sent it
    body = json.loads(app.received[0].body)
    assert sorted(body) == ["consumer_key", "consumer_secret", "key_id", "key_permissions", "user_id"]
    assert body["consumer_key"].startswith("ck_") and body["consumer_secret"].startswith("cs_")
