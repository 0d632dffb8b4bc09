"""Who gets into the admin page, on each database: standalone sign-in (passwords, rate limit,
CSRF, sessions that end) and the Shopify-embedded way in (App Bridge session tokens)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop, User
from bridge.services.users import set_password
from tests.conftest import SHOPIFY_OLD_SECRET
from tests.support.admin import PASSWORD, add_user, csrf_of, session_token, sign_in
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop

OTHER_DOMAIN = "other-client.myshopify.com"


@pytest.fixture
def shops(runtime):
    return add_shopify_shop(runtime), add_shopify_shop(runtime, OTHER_DOMAIN)


def embedded(client, path: str, token: str, **headers):
    return client.get(f"{path}?embedded=1&shop={SHOP_DOMAIN}&host=YWRtaW4&id_token={token}", headers=headers)


def test_a_visitor_who_is_not_signed_in_is_sent_to_the_sign_in_page(client, shops):
    # when a page is opened without a session
    response = client.get(f"/admin/shops/{shops[0]}/carts")
    # then the answer is the sign-in page, remembering where they were going
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/login?next=/admin/shops/{shops[0]}/carts"
    assert client.post("/admin/logout").status_code == 401


def test_signing_in_leads_to_the_users_only_shop_and_a_wrong_password_keeps_the_email(runtime, client, shops):
    # given a user of the first shop
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    # when a wrong password is tried
    wrong = client.post("/admin/login", data={"email": "owner@example.com", "password": "not it at all"})
    # then it is refused, naming the problem, with the email still typed
    assert wrong.status_code == 401
    assert "do not match a user" in wrong.get_data(as_text=True)
    assert 'value="owner@example.com"' in wrong.get_data(as_text=True)
    # when the right one is given (address in another case)
    right = client.post("/admin/login", data={"email": "Owner@Example.com", "password": PASSWORD})
    assert right.status_code == 303
    # then the landing page goes straight to that shop's dashboard
    assert client.get("/admin/").headers["Location"] == f"/admin/shops/{shops[0]}/"
    with runtime.sessions() as db:
        assert db.query(User).one().last_login_at == runtime.now()


def test_five_failures_for_an_address_lock_it_for_fifteen_minutes(runtime, client, clock, shops):
    # given a user, and five wrong passwords for that address
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    for attempt in range(5):
        client.post("/admin/login", data={"email": "owner@example.com", "password": f"guess {attempt}"})
    # when the right password comes next
    locked = client.post("/admin/login", data={"email": "owner@example.com", "password": PASSWORD})
    # then it is refused with a time to wait
    assert locked.status_code == 429
    assert "too many failed attempts; try again in 15 minute(s)" in locked.get_data(as_text=True)
    # and after fifteen minutes it works again
    clock.advance(minutes=15, seconds=1)
    assert client.post("/admin/login", data={"email": "owner@example.com", "password": PASSWORD}).status_code == 303


def test_one_client_trying_many_addresses_is_stopped_too(runtime, client, shops):
    # given a user, and twenty failures for twenty other addresses from one client
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    for number in range(20):
        client.post("/admin/login", data={"email": f"guess{number}@example.com", "password": "wrong password"})
    # when that client tries the real account with the right password
    response = client.post("/admin/login", data={"email": "owner@example.com", "password": PASSWORD})
    # then it waits too
    assert response.status_code == 429


def test_a_user_of_one_shop_gets_nothing_of_another(runtime, client, shops):
    # given a user of the first shop only, signed in
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    sign_in(client)
    # when they ask for any page of the other shop
    for page in ("", "carts", "sequence", "templates", "optouts", "settings"):
        response = client.get(f"/admin/shops/{shops[1]}/{page}")
        # then it does not exist for them
        assert response.status_code == 404, page
        assert OTHER_DOMAIN not in response.get_data(as_text=True)
    assert client.get(f"/admin/shops/{shops[0]}/").status_code == 200


def test_every_form_post_needs_the_sessions_csrf_token(runtime, client, shops):
    # given a signed-in user
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    token = sign_in(client)
    # when a post comes without the token, or with another one
    assert client.post("/admin/logout").status_code == 400
    assert client.post("/admin/logout", data={"csrf_token": "forged"}).status_code == 400
    # then only the right token is accepted
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    assert client.get(f"/admin/shops/{shops[0]}/").status_code == 302


def test_a_password_change_or_removal_ends_existing_sessions(runtime, client, shops):
    # given a signed-in user
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    sign_in(client)
    assert client.get(f"/admin/shops/{shops[0]}/").status_code == 200
    # when their password is changed elsewhere
    with unit_of_work(runtime.sessions) as db:
        set_password(db.query(User).one(), "a brand new password")
    # then this session is signed out
    assert client.get(f"/admin/shops/{shops[0]}/").status_code == 302


def test_standalone_pages_refuse_framing_and_caching(runtime, client, shops):
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    sign_in(client)
    response = client.get(f"/admin/shops/{shops[0]}/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    login = client.get("/admin/login")
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]


def test_an_embedded_page_with_a_valid_session_token_is_framed_only_by_its_shop(client, shops, log_text):
    # when Shopify's admin loads the app with a fresh session token for the first shop
    token = session_token(SHOP_DOMAIN)
    response = embedded(client, f"/admin/shops/{shops[0]}/", token)
    # then the page is served, framable only by that shop and the Shopify admin, with no cookie
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors https://{SHOP_DOMAIN} https://admin.shopify.com" in policy
    assert "Set-Cookie" not in response.headers
    html = response.get_data(as_text=True)
    # and its links keep the embedded query (not the token: App Bridge gives a fresh one per click)
    link = re.search(rf'href="(/admin/shops/{shops[0]}/carts\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {"embedded": ["1"], "shop": [SHOP_DOMAIN], "host": ["YWRtaW4"]}
    assert 'name="shopify-api-key" content="test-app"' in html
    assert token not in html and token not in log_text()


def test_the_landing_page_leads_embedded_staff_to_their_shop_with_the_same_token(client, shops):
    token = session_token(SHOP_DOMAIN)
    response = embedded(client, "/admin/", token)
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/admin/shops/{shops[0]}/"
    assert parse_qs(target.query) == {"embedded": ["1"], "shop": [SHOP_DOMAIN], "host": ["YWRtaW4"], "id_token": [token]}


def test_a_token_signed_by_the_previous_secret_is_accepted_during_rotation(client, shops):
    token = session_token(SHOP_DOMAIN, secret=SHOPIFY_OLD_SECRET)
    assert embedded(client, f"/admin/shops/{shops[0]}/", token).status_code == 200


@pytest.mark.parametrize("token", [
    pytest.param(lambda: session_token(SHOP_DOMAIN, secret="shpss_someone_elses_secret_000000000"), id="forged"),
    pytest.param(lambda: session_token(SHOP_DOMAIN, expires_in=-120), id="expired"),
    pytest.param(lambda: "not.a.jwt", id="garbage"),
])
def test_a_forged_or_expired_token_gets_no_page(client, shops, token):
    value = token()
    # when a page load carries it, Shopify's patch-token page is where it goes (no shop data)
    page = embedded(client, f"/admin/shops/{shops[0]}/", value)
    assert page.status_code == 302
    assert page.headers["Location"].startswith("http://localhost/admin/embedded/token?")
    assert "Test Shop" not in page.get_data(as_text=True)
    # and a fetch carrying it gets a 401 asking App Bridge to retry with a new token
    fetched = client.get(f"/admin/shops/{shops[0]}/", headers={"Authorization": f"Bearer {value}"})
    assert fetched.status_code == 401
    assert fetched.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_a_token_for_another_app_is_refused(runtime, client, shops):
    assert embedded(client, f"/admin/shops/{shops[0]}/", session_token(SHOP_DOMAIN, api_key="other-app")).status_code == 401
    # A valid token of an unknown or uninstalled shop installs it (token exchange):
    # tests/integration/test_install_shopify.py


def test_a_shops_token_opens_nothing_of_another_shop(client, shops):
    # when the first shop's staff ask for the second shop's pages with their own valid token
    response = embedded(client, f"/admin/shops/{shops[1]}/settings", session_token(SHOP_DOMAIN))
    # then there is no such page for them
    assert response.status_code == 404
    assert OTHER_DOMAIN not in response.get_data(as_text=True)


def test_the_patch_token_page_loads_app_bridge_and_may_be_framed_by_the_shop(client, shops):
    response = client.get(f"/admin/embedded/token?shop={SHOP_DOMAIN}&shopify-reload=%2Fadmin%2F")
    assert response.status_code == 200
    assert "app-bridge.js" in response.get_data(as_text=True)
    assert (response.headers["Content-Security-Policy"]
            == f"frame-ancestors https://{SHOP_DOMAIN} https://admin.shopify.com")


def test_the_password_never_reaches_the_logs(runtime, client, shops, log_text):
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    client.post("/admin/login", data={"email": "owner@example.com", "password": "wrong but secret-ish"})
    sign_in(client)
    assert "secret-ish" not in log_text() and PASSWORD not in log_text()
    assert "owner@example.com" not in log_text()
    assert csrf_of(client.get(f"/admin/shops/{shops[0]}/").get_data(as_text=True))
