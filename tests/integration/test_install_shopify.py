"""Installing the Shopify app, on each database, against the local Shopify server: the managed
install on the app home's first load (token exchange) and the authorization-code grant.

The real ``shopifyapp`` library verifies session tokens and exchanges them over the injected
httpx client; the server checks what it is sent and records every grant.
"""
from __future__ import annotations

import html as html_lib
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from bridge.db.engine import unit_of_work
from bridge.db.tables import InstallRequest, Shop, ShopSync
from bridge.worker import run
from tests.conftest import SHOPIFY_OLD_SECRET, SHOPIFY_SECRET
from tests.servers.shopify_admin import ShopifyAdminServer
from tests.servers.shopify_install import TokenGrant, callback_hmac
from tests.support.discounts import connect
from tests.support.shops import post_shopify

NAME = "new-client"
DOMAIN = f"{NAME}.myshopify.com"
HOST = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvbmV3LWNsaWVudA"
CALLBACK = "http://127.0.0.1:9/admin/shopify/callback"       # PUBLIC_URL of the test settings
SCOPES = "read_customers,read_orders,write_discounts"


@pytest.fixture
def shopify(runtime):
    """Shopify, where the merchant of new-client has just installed the app."""
    with ShopifyAdminServer(app_key="test-app", app_secret=SHOPIFY_SECRET) as server:
        server.add_shop(NAME)
        with server.http_client(timeout=2.0) as http:
            connect(runtime, http, timeout=2.0)
            yield server


@pytest.fixture
def real_time(clock):
    """Shopify stamps its callback with the real time: the app's clock must agree."""
    clock.current = datetime.now(UTC)
    return clock


def first_load(client, token: str, **headers):
    """Shopify's admin opening the app home in its iframe, as it does right after install."""
    query = urlencode({"embedded": "1", "shop": DOMAIN, "host": HOST, "id_token": token})
    return client.get(f"/admin/?{query}", headers=headers)


def the_shop(runtime) -> Shop | None:
    with runtime.sessions() as db:
        return db.scalars(select(Shop).where(Shop.domain == DOMAIN)).first()


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def install_url(client) -> str:
    started = client.get(f"/admin/shopify/install?shop={DOMAIN}")
    assert started.status_code == 302, started.get_data(as_text=True)
    return started.headers["Location"]


# --- Shopify-managed install: the first load of the app home ------------------------------

def test_the_first_load_installs_the_shop_with_an_expiring_token(runtime, client, clock, shopify, log_text):
    # given a shop cartbridge has never heard of, whose merchant just installed the app
    token = shopify.session_token(NAME)
    # when the Shopify admin loads the app home with the session token
    response = first_load(client, token)
    # then the token was exchanged once, for an expiring offline token
    assert shopify.grants(NAME) == [TokenGrant(NAME, "token_exchange", 200, None, True)]
    # and the shop is stored with it, encrypted, installed by Shopify's managed flow
    shop = the_shop(runtime)
    granted = shopify.grant(NAME)
    assert runtime.box.open(shop.access_token_enc) == granted.access_token
    assert runtime.box.open(shop.refresh_token_enc) == granted.refresh_token
    assert granted.access_token.encode() not in bytes(shop.access_token_enc)
    assert shop.access_token_expires_at is not None and shop.refresh_token_expires_at is not None
    assert (shop.webhooks_managed_by, shop.scopes, shop.installed_at, shop.status) == (
        "shopify", SCOPES, clock(), "active")
    with runtime.sessions() as db:
        assert db.get(ShopSync, shop.id).backfill_since == clock() - timedelta(days=7)
    # and the merchant goes on to the shop's dashboard, still embedded
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == f"/admin/shops/{shop.id}/"
    page = client.get(local(response.headers["Location"]))
    assert page.status_code == 200
    assert f"frame-ancestors https://{DOMAIN} https://admin.shopify.com" in page.headers["Content-Security-Policy"]
    # and neither token reached the logs
    assert token not in log_text() and granted.access_token not in log_text()
    assert "code=installed_managed" in log_text()


def test_the_settings_page_shows_the_install_and_the_last_reconciliation(runtime, client, clock, shopify):
    # given a shop installed through the app home, then reconciled once with an error
    first_load(client, shopify.session_token(NAME))
    shop = the_shop(runtime)
    with unit_of_work(runtime.sessions) as db:
        row = db.get(ShopSync, shop.id)
        row.last_sync_at, row.last_sync_count = clock() + timedelta(minutes=15), 4
        row.last_sync_error = "orders: Shopify answered HTTP 503"
    # when its Settings page is opened in the Shopify admin
    query = urlencode({"embedded": "1", "shop": DOMAIN, "host": HOST, "id_token": shopify.session_token(NAME)})
    page = html_lib.unescape(client.get(f"/admin/shops/{shop.id}/settings?{query}").get_data(as_text=True))
    # then it names who keeps the webhooks, the install time and scopes, and the reconciliation
    assert "Shopify, from the app configuration (shopify.app.toml)" in page
    assert "installed</span> 2026-11-23 10:00 UTC" in page and SCOPES in page
    assert "2026-11-23 10:15 UTC · 4 records caught up" in page
    assert "orders: Shopify answered HTTP 503" in page
    assert "Disconnect the store" not in page


def test_a_later_load_does_not_exchange_again(runtime, client, shopify):
    # given an installed shop
    first_load(client, shopify.session_token(NAME))
    # when the app home is loaded again with a new session token
    again = first_load(client, shopify.session_token(NAME))
    # then the stored token serves: no second exchange
    assert again.status_code == 303
    assert len(shopify.grants(NAME)) == 1


def test_a_forged_session_token_installs_nothing(runtime, client, shopify):
    # given a session token signed with another secret
    forged = shopify.session_token(NAME, secret="shpss_someone_elses_secret_0123456789abcdef")
    # when it comes with a first load
    response = first_load(client, forged)
    # then it goes to Shopify's token-refresh page; nothing was exchanged or stored
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/embedded/token"
    assert shopify.grants() == [] and the_shop(runtime) is None


def test_a_failed_exchange_shows_an_error_page_in_the_admin_and_stores_nothing(runtime, client, shopify,
                                                                              log_text):
    # given a validly signed session token for a shop Shopify will not exchange it for
    token = shopify.session_token("ghost-shop")
    # when the app home is loaded with it
    query = urlencode({"embedded": "1", "shop": "ghost-shop.myshopify.com", "id_token": token})
    response = client.get(f"/admin/?{query}")
    # then the merchant sees why, inside the Shopify admin, and nothing is stored
    assert response.status_code == 502
    assert "Reload the page to try again" in response.get_data(as_text=True)
    assert ("frame-ancestors https://ghost-shop.myshopify.com https://admin.shopify.com"
            in response.headers["Content-Security-Policy"])
    with runtime.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Shop)) == 0
    assert "code=token_exchange_failed" in log_text() and token not in log_text()


def test_a_token_shopify_refuses_to_exchange_gets_a_fetch_retried_and_a_page_an_error(runtime, client, shopify):
    # given a session token signed with the previous app secret: we accept it during a rotation,
    # Shopify (already on the new secret) refuses to exchange it
    token = shopify.session_token(NAME, secret=SHOPIFY_OLD_SECRET)
    # when App Bridge fetches with it
    fetched = client.get("/admin/", headers={"Authorization": f"Bearer {token}"})
    # then the answer asks App Bridge to retry with a fresh token
    assert fetched.status_code == 401
    assert fetched.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    # and a page load with it shows the error page instead (a redirect for a new token could loop)
    assert first_load(client, token).status_code == 502
    assert [g.error for g in shopify.grants(NAME)] == ["invalid_subject_token", "invalid_subject_token"]
    assert the_shop(runtime) is None


def test_a_shop_that_uninstalled_is_installed_again_on_its_next_load(runtime, client, clock, shopify):
    # given an installed shop that then uninstalled the app (the webhook, processed by the worker)
    first_load(client, shopify.session_token(NAME))
    old_token = shopify.grant(NAME).access_token
    post_shopify(client, "app/uninstalled", {"id": 1, "myshopify_domain": DOMAIN}, webhook_id="bye-1",
                 domain=DOMAIN)
    run(runtime, once=True)
    assert the_shop(runtime).uninstalled_at is not None
    # when the merchant installs again and opens the app a day later
    clock.advance(days=1)
    response = first_load(client, shopify.session_token(NAME))
    # then the same shop is active again with a fresh token
    assert response.status_code == 303
    shop = the_shop(runtime)
    assert (shop.uninstalled_at, shop.installed_at, shop.status) == (None, clock(), "active")
    assert runtime.box.open(shop.access_token_enc) == shopify.grant(NAME).access_token != old_token
    assert [g.grant for g in shopify.grants(NAME)] == ["token_exchange", "token_exchange"]


# --- the authorization-code grant -------------------------------------------------------------

def test_the_authorization_code_install_stores_the_shop_and_opens_the_app_in_shopify(runtime, client, real_time,
                                                                                    shopify, log_text):
    # when an install starts for the shop
    started = client.get(f"/admin/shopify/install?shop={DOMAIN}")
    # then the merchant goes to Shopify's grant page for our scopes and callback, with a state
    assert started.status_code == 302
    target = started.headers["Location"]
    assert target.startswith(f"https://{DOMAIN}/admin/oauth/authorize?")
    query = parse_qs(urlsplit(target).query)
    assert (query["client_id"], query["scope"], query["redirect_uri"]) == (
        ["test-app"], ["read_orders,write_discounts,read_customers"], [CALLBACK])
    state = query["state"][0]
    # and the state is kept in a short-lived cookie for the callback only
    cookie = started.headers["Set-Cookie"]
    for part in (f"cartbridge_shopify_state={state}", "HttpOnly", "Path=/admin/shopify", "SameSite=Lax",
                 "Max-Age=600"):
        assert part in cookie
    # when the merchant approves and Shopify sends the browser back
    done = client.get(local(shopify.approve(target)))
    # then the code was exchanged once for an expiring token, and the shop is stored with it
    assert shopify.grants(NAME) == [TokenGrant(NAME, "authorization_code", 200, None, True)]
    shop = the_shop(runtime)
    assert runtime.box.open(shop.access_token_enc) == shopify.grant(NAME).access_token
    assert (shop.webhooks_managed_by, shop.scopes) == ("cartbridge", SCOPES)
    assert shop.access_token_expires_at == real_time() + timedelta(hours=1)
    # and the merchant lands in the app inside the Shopify admin, the state cookie gone
    assert done.status_code == 302
    assert done.headers["Location"] == f"https://{DOMAIN}/admin/apps/test-app"
    assert "cartbridge_shopify_state=;" in done.headers["Set-Cookie"]
    assert state not in log_text() and shopify.grant(NAME).access_token not in log_text()


def test_the_state_cookie_is_secure_when_the_app_is_served_over_https(runtime, client, shopify):
    from dataclasses import replace
    runtime.settings = replace(runtime.settings, public_url="https://cartbridge.example.com")
    started = client.get(f"/admin/shopify/install?shop={DOMAIN}")
    assert "Secure" in started.headers["Set-Cookie"]
    assert parse_qs(urlsplit(started.headers["Location"]).query)["redirect_uri"] == [
        "https://cartbridge.example.com/admin/shopify/callback"]


def test_a_callback_with_a_bad_hmac_is_refused_and_stores_nothing(runtime, client, real_time, shopify):
    # given a callback whose parameters were changed after Shopify signed them
    back = shopify.approve(install_url(client)).replace("shop=new-client", "shop=evil-client")
    # when it arrives
    response = client.get(local(back))
    # then it is refused as unsigned; no code was exchanged
    assert response.status_code == 401
    assert "not signed by Shopify" in response.get_data(as_text=True)
    assert shopify.grants() == [] and the_shop(runtime) is None


def test_a_callback_in_another_browser_is_refused(runtime, app, client, real_time, shopify):
    # given an install started in one browser
    back = shopify.approve(install_url(client))
    # when the callback arrives in another browser (no state cookie)
    response = app.test_client().get(local(back))
    # then it is refused
    assert response.status_code == 400
    assert "not started in this browser" in response.get_data(as_text=True)
    assert shopify.grants() == [] and the_shop(runtime) is None


def test_a_replayed_callback_is_refused(runtime, client, real_time, shopify):
    # given a finished install
    back = shopify.approve(install_url(client))
    state = parse_qs(urlsplit(back).query)["state"][0]
    assert client.get(local(back)).status_code == 302
    # when the same callback comes again with its cookie
    client.set_cookie("cartbridge_shopify_state", state, path="/admin/shopify")
    replay = client.get(local(back))
    # then its state is spent: refused, and no second exchange
    assert replay.status_code == 400
    assert "already used" in replay.get_data(as_text=True)
    assert len(shopify.grants(NAME)) == 1


def test_a_state_started_for_another_shop_is_refused(runtime, client, real_time, shopify):
    # given an install started for new-client whose state comes back signed for another shop
    shopify.add_shop("other-client")
    state = parse_qs(urlsplit(install_url(client)).query)["state"][0]
    back = shopify.authorize("other-client", CALLBACK, state, SCOPES.split(","))
    # when that callback arrives
    response = client.get(local(back))
    # then it is refused and nothing is installed
    assert response.status_code == 400
    assert shopify.grants() == []
    with runtime.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Shop)) == 0


def test_a_callback_older_than_a_day_is_refused(runtime, client, real_time, shopify):
    # given a callback Shopify stamped two days ago
    state = parse_qs(urlsplit(install_url(client)).query)["state"][0]
    back = shopify.authorize(NAME, CALLBACK, state, SCOPES.split(","), issued_at=time.time() - 2 * 86400)
    # when it arrives
    response = client.get(local(back))
    # then it is refused
    assert response.status_code == 400 and "more than a day old" in response.get_data(as_text=True)
    assert shopify.grants() == []


@pytest.mark.parametrize("typed", ["evil.example.com", "new-client.myshopify.com.evil.example",
                                   "https://new-client.myshopify.com/admin", ""])
def test_an_install_for_something_else_than_a_shop_domain_is_refused_with_the_reason(runtime, client, typed):
    # when an install starts for something that is not a myshopify.com domain
    response = client.get(f"/admin/shopify/install?{urlencode({'shop': typed})}")
    # then the page says why, and no request or cookie was made
    assert response.status_code == 400
    assert "must be the shop's <name>.myshopify.com address" in html_lib.unescape(response.get_data(as_text=True))
    assert "Set-Cookie" not in response.headers
    with runtime.sessions() as db:
        assert db.scalar(select(func.count()).select_from(InstallRequest)) == 0


def test_a_callback_naming_a_bad_domain_is_refused_even_when_signed(runtime, client, real_time, shopify):
    # given a correctly signed callback naming a host that is not a shop
    params = {"code": "abc", "shop": "evil.example.com", "state": "s", "timestamp": str(int(time.time()))}
    params["hmac"] = callback_hmac(params, SHOPIFY_SECRET)
    # when it arrives
    response = client.get(f"/admin/shopify/callback?{urlencode(params)}")
    # then it is refused before anything is looked up
    assert response.status_code == 400 and shopify.grants() == []
