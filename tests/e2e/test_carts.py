"""The Carts pages in a real browser: find a customer's cart and read what happened to it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in_page
from tests.support.admin import add_user
from tests.support.story import seed_story


@pytest.fixture
def story(runtime, client, clock):
    story = seed_story(runtime, client, clock)
    add_user(runtime, shop_ids=[story.shop_id])
    return story


def test_an_owner_finds_a_cart_by_email_and_reads_its_timeline(page, live_url, story):
    # given the owner is signed in
    sign_in_page(page, live_url)
    # when they open Carts and search for anna
    page.get_by_role("link", name="Carts").click()
    expect(page.get_by_role("heading", name="Carts")).to_be_visible()
    page.get_by_label("Customer email").fill("anna")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("status")).to_have_text("1 cart")
    expect(page.get_by_role("link", name="boris@example.com")).to_have_count(0)
    # and open her cart
    page.get_by_role("link", name="anna@example.com").click()
    # then the timeline shows the reminder she was sent and the order she placed
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.get_by_text("Message “Still thinking about Linen Shirt?”")).to_be_visible()
    expect(page.get_by_text("Order 9001 placed")).to_be_visible()
    # and the message as sent opens in a sandboxed frame
    page.get_by_text("Message details").click()
    frame = page.frame_locator("iframe.preview-frame")
    expect(frame.get_by_text("Return to your cart")).to_be_visible()
    shot(page, "cart-timeline")


def test_the_cart_list_fits_a_phone_screen(phone, live_url, story):
    # given the owner signed in on a 375 px phone
    sign_in_page(phone, live_url)
    # when the cart list is shown
    phone.goto(f"{live_url}/admin/shops/{story.shop_id}/carts")
    expect(phone.get_by_role("link", name="boris@example.com")).to_be_visible()
    # then the page itself does not scroll sideways (the table scrolls inside its wrapper)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone, "carts-phone")
