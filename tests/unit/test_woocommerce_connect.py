"""The pure parts of connecting a WooCommerce store: the store URL, the authorize URL, the keys."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.woocommerce_connect import KeysGranted, authorize_url, read_callback, valid_store_url

CK, CS = "ck_" + "a1" * 20, "cs_" + "b2" * 20


@pytest.mark.parametrize("typed, expected", [
    ("shop.example.com", "https://shop.example.com"),
    ("  https://Shop.Example.com/  ", "https://shop.example.com"),
    ("https://shop.example.com/store/", "https://shop.example.com/store"),          # WordPress in a folder
    ("https://shop.example.com/?page_id=2#top", "https://shop.example.com"),
    ("https://shop.example.com/wp-admin/admin.php?page=wc-settings", "https://shop.example.com"),
    ("https://shop.example.com/store/wp-json/wc/v3", "https://shop.example.com/store"),
    ("https://shop.example.com:8443", "https://shop.example.com:8443"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),                              # tests and dev only
    ("http://localhost/shop", "http://localhost/shop"),
    ("https://магазин.укр", "https://магазин.укр"),
])
def test_a_store_url_is_normalized(typed, expected):
    assert valid_store_url(typed) == expected


@pytest.mark.parametrize("typed", [
    "", "   ", "http://shop.example.com",           # plain http would carry the keys in the clear
    "ftp://shop.example.com", "https://", "https://shop", "https://shop .example.com",
    "https://user:pass@shop.example.com", "https://-shop.example.com", "https://shop.example.com:99999",
    "javascript:alert(1)",
])
def test_what_is_not_a_store_url_is_refused(typed):
    assert valid_store_url(typed) is None


def test_the_authorize_url_asks_for_read_write_keys_for_our_request():
    # given our app's URLs and a one-time request nonce
    url = authorize_url("https://shop.example.com/store", "cartbridge", "nonce-42",
                        "https://app.example/admin/woocommerce/return", "https://app.example/webhooks/woocommerce/auth")
    # then it is the store's wc-auth endpoint with WooCommerce's five arguments
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "shop.example.com", "/store/wc-auth/v1/authorize")
    assert parse_qs(parts.query) == {"app_name": ["cartbridge"], "scope": ["read_write"], "user_id": ["nonce-42"],
                                     "return_url": ["https://app.example/admin/woocommerce/return"],
                                     "callback_url": ["https://app.example/webhooks/woocommerce/auth"]}


@pytest.mark.parametrize("return_url, callback_url", [
    ("https://app.example/return?x=a%20b", "https://app.example/cb"),      # decoded twice by WooCommerce
    ("https://app.example/return", "https://app.example/cb?a=1+2"),
    ("https://app.example/return", "http://app.example/cb"),               # WooCommerce wants https
])
def test_urls_woocommerce_would_mangle_or_refuse_are_a_programming_error(return_url, callback_url):
    with pytest.raises(ValueError):
        authorize_url("https://shop.example.com", "cartbridge", "n", return_url, callback_url)


def test_the_callback_body_gives_the_keys():
    # given WC_Auth's body
    raw = json.dumps({"key_id": 3, "user_id": "nonce-42", "consumer_key": CK, "consumer_secret": CS,
                      "key_permissions": "read_write"}).encode()
    # then it reads as granted keys
    assert read_callback(raw) == KeysGranted(user_id="nonce-42", consumer_key=CK, consumer_secret=CS,
                                             key_permissions="read_write", key_id=3)


def test_a_numeric_user_id_is_read_as_text():
    raw = json.dumps({"user_id": 42, "consumer_key": CK, "consumer_secret": CS, "key_permissions": "read"}).encode()
    granted = read_callback(raw)
    assert (granted.user_id, granted.key_permissions, granted.key_id) == ("42", "read", None)


@pytest.mark.parametrize("raw, reason", [
    (b"consumer_key=ck_x", "the body is not JSON"),
    (b"\xff\xfe", "the body is not JSON"),
    (b"[]", "the body is not a JSON object"),
    (json.dumps({"user_id": "n", "consumer_key": "ck_short", "consumer_secret": CS,
                 "key_permissions": "read_write"}).encode(), "consumer_key is missing or malformed"),
    (json.dumps({"user_id": "n", "consumer_key": CK, "key_permissions": "read_write"}).encode(),
     "consumer_secret is missing or malformed"),
    (json.dumps({"user_id": "n", "consumer_key": CK, "consumer_secret": CS,
                 "key_permissions": "admin"}).encode(), "key_permissions is missing or unknown"),
    (json.dumps({"user_id": " ", "consumer_key": CK, "consumer_secret": CS,
                 "key_permissions": "read_write"}).encode(), "user_id is missing"),
])
def test_a_body_that_is_not_woocommerces_gives_a_reason_without_echoing_it(raw, reason):
    assert read_callback(raw) == reason
