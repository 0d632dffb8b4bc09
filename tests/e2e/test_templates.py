"""The template editor in a real browser: the live preview while typing, Liquid errors with
their line, and a test send that lands in the dev outbox."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from bridge.db.tables import OutboxEntry
from tests.e2e.conftest import shot, sign_in_page
from tests.support.admin import add_user
from tests.support.story import seed_story


def test_the_editor_previews_while_typing_shows_errors_and_sends_a_test(runtime, client, clock, page, live_url):
    # given a shop with real carts, and its merchant signed in on the English reminder 1
    _open_english_reminder_1(runtime, client, clock, page, live_url)

    # when they type a new subject, then the preview's subject follows, with a real customer's name
    page.get_by_label("Subject", exact=True).fill("Back soon, {{ customer.first_name }}?")
    expect(page.locator("#preview-subject")).to_have_text(re.compile(r"^Back soon, (Anna|Boris|Chloe)\?$"))
    assert page.evaluate("window.sameDocument") is True   # no reload: the live preview did it

    # when they leave an {% if %} open on line 3 of the HTML, then the error appears with its line
    html = page.get_by_label("HTML", exact=True)
    html.fill("<p>Hello</p>\n<p>\n{% if cart.items %}\n<b>never closed</b>")
    expect(page.locator("#preview-problems")).to_contain_text("HTML, line 3: expected tag endif")

    # when they fix it, then the HTML preview shows the fixed message and the error is gone
    html.fill("<p>Hello {{ customer.first_name }}, your {{ cart.first_item_title }} is waiting.</p>")
    expect(page.frame_locator("#preview-frame").locator("p").first).to_contain_text("is waiting")
    expect(page.locator("#preview-problems")).to_have_text("")

    # when they send a test to their own address
    page.get_by_label("Test address").fill("me@shop.example")
    page.get_by_role("button", name="Send a test").click()
    # then the page says so, what they typed is still there, and the outbox holds the test
    expect(page.get_by_role("status")).to_have_text("Test message sent.")
    expect(page.get_by_label("Subject", exact=True)).to_have_value("Back soon, {{ customer.first_name }}?")
    with runtime.sessions() as session:
        sent = session.scalars(select(OutboxEntry).where(OutboxEntry.kind == "test")).one()
    assert (sent.to_email, sent.subject) == ("me@shop.example", "[Test] Back soon, Alex?")
    shot(page, "template-editor")


def _open_english_reminder_1(runtime, client, clock, page, live_url) -> None:
    story = seed_story(runtime, client, clock)
    add_user(runtime, shop_ids=[story.shop_id])
    sign_in_page(page, live_url)
    page.goto(f"{live_url}/admin/shops/{story.shop_id}/templates")
    page.get_by_role("link", name="Reminder 1, 1 h after leaving, English: default").click()
    expect(page.get_by_role("heading", name="Reminder 1, 1 h after leaving · English")).to_be_visible()
    page.evaluate("window.sameDocument = true")   # gone if the page reloads


def test_the_editor_fits_a_phone_screen(runtime, client, clock, phone, live_url):
    # given a merchant on a 375 px phone
    shop_id = seed_story(runtime, client, clock).shop_id
    add_user(runtime, shop_ids=[shop_id])
    sign_in_page(phone, live_url)
    # when they open the list and then a template
    phone.goto(f"{live_url}/admin/shops/{shop_id}/templates")
    phone.get_by_role("link", name="Reminder 2, 1 d after leaving, Ukrainian: default").click()
    # then nothing sticks out sideways and the preview is there, below the fields
    expect(phone.locator("#preview-subject")).to_contain_text("Linen Shirt")
    expect(phone.frame_locator("#preview-frame").locator("body")).to_contain_text("Dmytro")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(phone, "template-editor-phone")
