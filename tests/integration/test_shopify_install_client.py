"""Installing the app through the real ``shopifyapp`` library and httpx against the local Shopify server:
token exchange of the App Bridge session token, and the authorization-code grant with its HMAC-signed
callback. No database."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from shopify_app import IdTokenDetails, verify_app_home_req

from connectors.base import CallOutcome, PlatformHttp, StoreCredentials
from connectors.shopify import CONNECTOR
from connectors.shopify_install import (GrantedAccess, authorize_url, exchange_code, exchange_session_token,
                                        valid_shop_domain, verify_callback)
from tests.servers.shopify_admin import ShopifyAdminServer

APP_KEY = "cartbridge-test-app"
APP_SECRET = "shpss_install_client_test_secret_0123456789"     # >= 32 bytes: PyJWT warns about shorter keys
OLD_SECRET = "shpss_install_client_old_secret_9876543210ab"
CALLBACK = "https://bridge.example/shopify/callback"
SCOPES = ("read_orders", "write_discounts", "read_customers")


@pytest.fixture
def server():
    with ShopifyAdminServer(app_key=APP_KEY, app_secret=APP_SECRET) as srv:
        yield srv


@pytest.fixture
def shop(server):
    return server.add_shop(f"shop-{secrets.token_hex(4)}")


@pytest.fixture
def http(server):
    with server.http_client(timeout=2.0) as client:
        yield PlatformHttp(shopify=client)


def id_token(server, domain: str, **claims) -> IdTokenDetails:
    """What ``verify_app_home_req`` hands over; built directly so the server's own checks are tested."""
    token = server.session_token(domain, **claims)
    return IdTokenDetails(exchangeable=True, token=token, claims={"dest": f"https://{domain}"})


def works(http, domain: str, token: str) -> CallOutcome:
    return CONNECTOR.store_client(StoreCredentials(domain, token), http).list_webhooks().outcome


# --- token exchange (Shopify-managed install) ------------------------------------------------------

def test_the_session_token_of_the_app_home_becomes_an_expiring_offline_token(server, shop, http):
    # given the first load of the embedded app, verified by Shopify's own library
    request = {"method": "GET", "url": f"https://bridge.example/app?shop={shop.domain}", "body": "",
               "headers": {"Authorization": f"Bearer {server.session_token(shop.domain)}"}}
    verified = verify_app_home_req(request, {"client_id": APP_KEY, "client_secret": APP_SECRET}, "/patch")
    assert verified.ok, verified.log.code
    before = datetime.now(UTC)
    # when its session token is exchanged
    granted = exchange_session_token(verified.id_token, APP_KEY, APP_SECRET, http)
    # then the shop has a new expiring offline token with its scopes; the old token is dead
    assert isinstance(granted, GrantedAccess)
    tokens = granted.tokens
    assert (granted.domain, granted.scopes) == (shop.domain, ",".join(sorted(SCOPES)))
    assert before + timedelta(minutes=59) < tokens.expires_at <= datetime.now(UTC) + timedelta(hours=1)
    assert tokens.refresh_token and tokens.refresh_token_expires_at > before + timedelta(days=89)
    assert tokens.access_token == server.grant(shop.domain).access_token != shop.access_token
    assert (works(http, shop.domain, tokens.access_token), works(http, shop.domain, shop.access_token)) \
        == (CallOutcome.DONE, CallOutcome.AUTH)
    [record] = server.grants(shop.domain)
    assert (record.grant, record.status, record.expiring) == ("token_exchange", 200, True)


def test_the_exchanged_token_refreshes_like_any_expiring_token(server, shop, http):
    granted = exchange_session_token(id_token(server, shop.domain), APP_KEY, APP_SECRET, http)
    fresh = CONNECTOR.refresh_token(shop.domain, granted.tokens, APP_KEY, APP_SECRET, http)
    assert fresh.access_token == server.grant(shop.domain).access_token != granted.tokens.access_token
    assert works(http, shop.domain, fresh.access_token) == CallOutcome.DONE


@pytest.mark.parametrize("claims, why", [
    ({"secret": "shpss_somebody_elses_secret_0123456789abcd"}, "Signature verification failed"),
    ({"now": time.time() - 600}, "Signature has expired"),
    ({"aud": "another-app"}, "Invalid audience"),
    ({"nbf": int(time.time()) + 600}, "not yet valid"),
])
def test_a_forged_expired_or_foreign_session_token_is_refused_and_nothing_changes(server, shop, http, claims, why):
    # given a session token Shopify would not accept
    details = id_token(server, shop.domain, **claims)
    # when it is exchanged
    refused = exchange_session_token(details, APP_KEY, APP_SECRET, http)
    # then the library reports Shopify's invalid_subject_token and the shop keeps its token
    assert isinstance(refused, str) and refused.startswith("invalid_subject_token")
    assert works(http, shop.domain, shop.access_token) == CallOutcome.DONE
    [record] = server.grants(shop.domain)
    assert (record.status, record.error) == (400, "invalid_subject_token")


def test_a_session_token_for_another_shop_is_refused(server, shop, http):
    other = server.add_shop(f"shop-{secrets.token_hex(4)}")
    token = server.session_token(shop.domain, dest=f"https://{other.domain}")
    # sent to this shop's endpoint, as if the claims had been swapped
    refused = exchange_session_token(IdTokenDetails(True, token, {"dest": f"https://{shop.domain}"}),
                                     APP_KEY, APP_SECRET, http)
    assert isinstance(refused, str) and refused.startswith("invalid_subject_token")


def test_wrong_client_credentials_are_refused(server, shop, http):
    refused = exchange_session_token(id_token(server, shop.domain), APP_KEY, "shpss_wrong_" + "0" * 30, http)
    assert isinstance(refused, str) and refused.startswith("invalid_client")


# --- the authorization-code grant -----------------------------------------------------------------

def callback_query(server, domain: str, state: str = "nonce-1", scopes=SCOPES) -> dict[str, str]:
    """The merchant follows our install URL and approves: the query of Shopify's redirect back."""
    install = authorize_url(domain, APP_KEY, scopes, CALLBACK, state)
    callback = server.approve(install)
    assert callback.startswith(CALLBACK + "?")
    return dict(parse_qsl(urlsplit(callback).query))


def test_an_install_url_asks_for_our_scopes_and_comes_back_signed(server, shop, http):
    # given our install URL for the shop
    install = authorize_url(f"https://{shop.domain.upper()}/", APP_KEY, SCOPES, CALLBACK, "nonce-1")
    parts = urlsplit(install)
    assert (parts.scheme, parts.hostname, parts.path) == ("https", shop.domain, "/admin/oauth/authorize")
    assert dict(parse_qsl(parts.query)) == {"client_id": APP_KEY, "scope": ",".join(SCOPES),
                                            "redirect_uri": CALLBACK, "state": "nonce-1"}
    # when the browser follows it and the merchant approves
    answer = http.shopify.get(install, follow_redirects=False)
    # then Shopify redirects back with a signed query naming the shop and our state
    assert answer.status_code == 302
    query = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
    assert set(query) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert (query["shop"], query["state"]) == (shop.domain, "nonce-1")
    assert verify_callback(query, [APP_SECRET])


def test_the_code_becomes_an_expiring_offline_token_once(server, shop, http):
    # given the signed callback of an approved install asking for two scopes
    query = callback_query(server, shop.domain, scopes=("read_orders", "write_discounts"))
    assert verify_callback(query, [APP_SECRET]) and valid_shop_domain(query["shop"]) == shop.domain
    # when the code is exchanged
    granted = exchange_code(query["shop"], query["code"], APP_KEY, APP_SECRET, http)
    # then the shop has an expiring token with the granted scopes
    assert isinstance(granted, GrantedAccess)
    assert (granted.domain, granted.scopes) == (shop.domain, "read_orders,write_discounts")
    assert granted.tokens.expires_at - datetime.now(UTC) > timedelta(minutes=59)
    assert granted.tokens.refresh_token and granted.tokens.refresh_token_expires_at
    assert works(http, shop.domain, granted.tokens.access_token) == CallOutcome.DONE
    # and the same code never works twice
    again = exchange_code(query["shop"], query["code"], APP_KEY, APP_SECRET, http)
    assert again == "invalid_request: The authorization code was not found or was already used"
    assert [(g.grant, g.status, g.expiring) for g in server.grants(shop.domain)] \
        == [("authorization_code", 200, True), ("authorization_code", 400, True)]


def test_a_code_older_than_ten_minutes_is_refused(server, shop, http):
    callback = server.authorize(shop.domain, CALLBACK, "nonce-1", SCOPES, issued_at=time.time() - 601)
    query = dict(parse_qsl(urlsplit(callback).query))
    assert verify_callback(query, [APP_SECRET])
    refused = exchange_code(shop.domain, query["code"], APP_KEY, APP_SECRET, http)
    assert isinstance(refused, str) and refused.startswith("invalid_request")


def test_a_tampered_callback_fails_the_hmac_and_the_previous_secret_still_verifies(server, shop):
    query = callback_query(server, shop.domain)
    assert not verify_callback(query | {"shop": "evil.myshopify.com"}, [APP_SECRET])
    assert not verify_callback(query | {"state": "another-nonce"}, [APP_SECRET])
    assert not verify_callback(query | {"hmac": "0" * 64}, [APP_SECRET])
    assert not verify_callback({k: v for k, v in query.items() if k != "hmac"}, [APP_SECRET])
    assert not verify_callback(query | {"hmac": "é" * 64}, [APP_SECRET])
    assert not verify_callback(query, [OLD_SECRET, ""])
    assert verify_callback(query, ["", OLD_SECRET, APP_SECRET])      # rotation: either secret signs


def test_a_value_that_smuggles_a_parameter_does_not_pass_for_two():
    # "a=1&b=2" signed as one parameter must not verify as two parameters, and back
    signed = hmac.new(APP_SECRET.encode(), b"a=1%26b=2", hashlib.sha256).hexdigest()
    assert verify_callback({"a": "1&b=2", "hmac": signed}, [APP_SECRET])
    assert not verify_callback({"a": "1", "b": "2", "hmac": signed}, [APP_SECRET])


def test_a_code_exchange_says_why_it_failed_without_raising(server, shop, http):
    query = callback_query(server, shop.domain)
    assert exchange_code("evil.example.com", query["code"], APP_KEY, APP_SECRET, http).startswith("invalid_shop")
    wrong = exchange_code(shop.domain, query["code"], APP_KEY, "shpss_wrong_" + "0" * 30, http)
    assert wrong.startswith("invalid_client")
    unknown = exchange_code(f"nowhere-{secrets.token_hex(3)}.myshopify.com", "c", APP_KEY, APP_SECRET, http)
    assert unknown.startswith("http_404")
    server.stop()
    assert exchange_code(shop.domain, query["code"], APP_KEY, APP_SECRET, http).startswith("network_error")


@pytest.mark.parametrize("text, domain", [
    ("demo-shop.myshopify.com", "demo-shop.myshopify.com"),
    ("  Demo-Shop.MyShopify.com ", "demo-shop.myshopify.com"),
    ("https://demo-shop.myshopify.com", "demo-shop.myshopify.com"),
    ("https://demo-shop.myshopify.com/", "demo-shop.myshopify.com"),
    ("demo-shop", None), ("demo-shop.example.com", None), ("-demo.myshopify.com", None),
    ("demo.myshopify.com.evil.com", None), ("evil.com/demo.myshopify.com", None),
    ("https://demo.myshopify.com:8443", None), ("https://user@demo.myshopify.com", None),
    ("https://demo.myshopify.com/admin", None), ("https://demo.myshopify.com?x=1", None),
    ("ftp://demo.myshopify.com", None), ("demo_shop.myshopify.com", None), ("", None), (None, None),
    ("a" * 64 + ".myshopify.com", None),
])
def test_only_a_myshopify_domain_is_a_shop(text, domain):
    assert valid_shop_domain(text) == domain


def test_an_install_url_for_anything_but_a_shop_is_a_programming_error():
    with pytest.raises(ValueError):
        authorize_url("evil.example.com", APP_KEY, SCOPES, CALLBACK, "nonce-1")
