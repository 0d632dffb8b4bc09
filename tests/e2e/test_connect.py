"""Connecting a WooCommerce store in a real browser: type the store's address, approve on the
store's own page, land on the shop's Settings with its webhooks registered.

The app is deployed at https://cartbridge.test (WooCommerce sends keys only to an https
callback). The local store reaches it through its ``resolve`` map; the browser, sent back to
that address by the store, is pointed at the live server by a route (the test's DNS).
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bridge.db.tables import Shop
from bridge.runtime import Runtime
from tests.conftest import make_settings
from tests.e2e.conftest import shot, sign_in_page
from tests.servers.woocommerce_api import WooCommerceTestServer
from tests.support.admin import add_user

PUBLIC = "https://cartbridge.test"


@pytest.fixture
def runtime(database_url, tmp_path, clock):
    rt = Runtime.from_settings(make_settings(database_url, tmp_path, public_url=PUBLIC), now=clock)
    yield rt
    rt.close()


@pytest.fixture
def store(live_url):
    with WooCommerceTestServer(resolve={PUBLIC: live_url}) as server:
        yield server


@pytest.fixture
def public_to_live(page, live_url):
    """The browser's way to https://cartbridge.test: the same path on the live server."""
    def to_live(route):
        parts = urlsplit(route.request.url)
        route.fulfill(status=302, headers={"Location": f"{live_url}{parts.path}?{parts.query}"})
    page.context.route(f"{PUBLIC}/**", to_live)


def test_a_store_is_connected_by_approving_on_its_own_page(page, live_url, runtime, store, public_to_live):
    # given an agency user with no shop yet, on the Shops page
    add_user(runtime, "owner@example.com")
    sign_in_page(page, live_url)
    page.get_by_role("link", name="Connect a WooCommerce store").click()
    # when they type an address that is not one, then the store's own
    page.get_by_label("Store URL").fill("http://shop.example.com")
    page.get_by_role("button", name="Continue to the store").click()
    expect(page.locator("#e-store_url")).to_contain_text("must be your WordPress site's address")
    expect(page.get_by_label("Store URL")).to_have_value("http://shop.example.com")
    page.get_by_label("Store URL").fill(f"{store.url}/wp-admin/")
    page.get_by_role("button", name="Continue to the store").click()
    # then the store asks them to approve Read/Write access for cartbridge
    expect(page.get_by_role("heading", name="cartbridge would like to connect to your store")).to_be_visible()
    expect(page.get_by_text("Read/Write")).to_be_visible()
    # when they approve
    page.get_by_role("link", name="Approve").click()
    # then they are back on the new shop's Settings page, connected, with our three webhooks
    expect(page.get_by_role("status")).to_have_text("Connected. 3 webhooks registered.")
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name="Webhooks kept by")).to_contain_text("cartbridge, through the platform's API")
    expect(page.get_by_role("button", name="Disconnect the store…")).to_be_visible()
    shot(page, "connect-woocommerce")
    assert {hook["topic"] for hook in store.webhooks} == {"order.created", "order.updated", "order.deleted"}
    with runtime.sessions() as db:
        [shop] = db.scalars(select(Shop)).all()
    assert (shop.platform, shop.domain) == ("woocommerce", store.url)
    assert page.url.startswith(f"{live_url}/admin/shops/{shop.id}/settings")
