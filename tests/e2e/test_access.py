"""Getting into the admin page in a real browser: sign-in, walls between shops, and the
Shopify-embedded way in with App Bridge session tokens (App Bridge itself is played by
``window.shopify.idToken`` returning tokens signed like Shopify's; its CDN script is blocked)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in_page
from tests.support.admin import add_user, session_token
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop

OTHER = "other-client.myshopify.com"


@pytest.fixture
def shops(runtime):
    return add_shopify_shop(runtime), add_shopify_shop(runtime, OTHER)


def test_signing_in_with_a_wrong_then_the_right_password(page, live_url, runtime, shops):
    # given a user of the first shop
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    # when a wrong password is typed
    sign_in_page(page, live_url, password="not the password")
    # then the page says so next to the field and keeps the email
    expect(page.locator("#e-password")).to_contain_text("this email and password do not match a user")
    expect(page.get_by_label("Email")).to_have_value("owner@example.com")
    shot(page, "sign-in-error")
    # when the right one is typed, the shop's dashboard opens
    sign_in_page(page, live_url)
    expect(page).to_have_url(f"{live_url}/admin/shops/{shops[0]}/")
    expect(page.get_by_role("navigation", name="Shop pages")).to_be_visible()


def test_a_user_of_shop_a_gets_no_page_of_shop_b(page, live_url, runtime, shops):
    # given a signed-in user of the first shop
    add_user(runtime, "owner@example.com", shop_ids=[shops[0]])
    sign_in_page(page, live_url)
    # when they type the other shop's addresses
    for path in ("", "carts", "settings"):
        response = page.goto(f"{live_url}/admin/shops/{shops[1]}/{path}")
        # then there is no such page, and nothing names that shop
        assert response.status == 404
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        assert OTHER not in page.content()


def test_the_admin_page_cannot_be_framed_by_another_site(page, live_url, runtime, shops):
    # when a foreign page frames the sign-in page
    page.set_content(f'<iframe src="{live_url}/admin/login" width="600" height="400"></iframe>')
    page.wait_for_timeout(500)
    # then the browser refuses to show it (frame-ancestors 'none')
    frame = page.frames[1]
    assert frame.get_by_role("heading", name="Sign in").count() == 0


def _as_app_bridge(page, token_for_each_call: bool = True) -> None:
    """What App Bridge gives a page: window.shopify.idToken(), a fresh token per call."""
    page.route("https://cdn.shopify.com/**", lambda route: route.abort())
    page.expose_function("cartbridgeTestToken", lambda: session_token(SHOP_DOMAIN))
    page.add_init_script("window.shopify = {idToken: () => window.cartbridgeTestToken()};")


def test_embedded_staff_move_between_pages_with_fresh_session_tokens(page, live_url, shops):
    # given the app opened by the Shopify admin with a session token
    _as_app_bridge(page)
    first = session_token(SHOP_DOMAIN)
    response = page.goto(f"{live_url}/admin/?embedded=1&shop={SHOP_DOMAIN}&host=YWRtaW4&id_token={first}")
    # then the shop's dashboard is served with the embedded framing policy and no cookie
    assert response.status == 200
    expect(page.get_by_role("navigation", name="Shop pages")).to_be_visible()
    assert page.context.cookies() == []
    # when staff click "Settings"
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url("**/settings?**")
    # then the page loads with a new token (App Bridge's), not the one the admin opened with
    assert "id_token=" in page.url and first not in page.url
    expect(page.get_by_role("link", name="Settings")).to_have_attribute("aria-current", "page")
    shot(page, "embedded-settings")


@pytest.mark.parametrize("kind", ["forged", "expired"])
def test_embedded_mode_rejects_a_forged_or_expired_session_token(page, live_url, shops, kind):
    # given a token signed with another secret, or one that expired two minutes ago
    page.route("https://cdn.shopify.com/**", lambda route: route.abort())
    token = (session_token(SHOP_DOMAIN, secret="shpss_an_attackers_secret_0000000000") if kind == "forged"
             else session_token(SHOP_DOMAIN, expires_in=-120))
    # when a page is opened with it
    page.goto(f"{live_url}/admin/shops/{shops[0]}/carts?embedded=1&shop={SHOP_DOMAIN}&id_token={token}")
    # then it is sent to Shopify's token-refresh page, which shows no shop data
    assert "/admin/embedded/token" in page.url
    assert "Test Shop" not in page.content()
    expect(page.get_by_role("navigation", name="Shop pages")).to_have_count(0)
    # and a fetch with it is answered 401
    status = page.evaluate("""async ([url, token]) => (await fetch(url, {headers: {Authorization: 'Bearer ' + token}})).status""",
                           [f"{live_url}/admin/shops/{shops[0]}/", token])
    assert status == 401


def test_embedded_forms_post_with_a_fresh_token_and_keep_the_pressed_button(page, live_url, runtime, shops):
    # given the sequence page opened inside the Shopify admin
    _as_app_bridge(page)
    page.goto(f"{live_url}/admin/shops/{shops[0]}/sequence?embedded=1&shop={SHOP_DOMAIN}"
              f"&id_token={session_token(SHOP_DOMAIN)}")
    expect(page.get_by_role("group", name="Step 3")).to_be_visible()
    # when staff press "Add a step" (a named submit button; the script re-submits the form itself)
    page.get_by_role("button", name="Add a step").click()
    # then the post was authenticated by a new token and did what the pressed button asked
    expect(page.get_by_role("group", name="Step 4")).to_be_visible()
    assert page.context.cookies() == []
