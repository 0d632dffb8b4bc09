"""The Settings page in a real browser: bad values refused next to their fields with what was
typed kept, then fixed and saved; a SendGrid key shown only by its last 4 characters."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import open_tab, shot

KEY = "SG.AbCdEfGhIjKlMnOpQrStUv.0123456789abcdefghijklmnopqrstuvwxyzABCWXYZ"


def open_settings(page, live_url: str) -> None:
    open_tab(page, live_url, "Settings")
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()


def test_bad_values_are_shown_next_to_their_fields_then_fixed_and_saved(page, live_url, shop_id):
    # given the owner on the Settings page
    open_settings(page, live_url)
    # when they type a quiet hour of 24 and an unknown time zone and save
    page.get_by_label("Quiet hours start").fill("24")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_label("Sender name").fill("Linen & Co")
    page.get_by_role("button", name="Save settings").click()
    # then both reasons are next to their fields, and what they typed is still there
    expect(page.locator("#e-quiet_hours_start")).to_have_text(
        "Quiet hours start must be a whole number from 0 to 23")
    expect(page.locator("#e-timezone")).to_contain_text("must be an IANA time zone such as Europe/Kyiv")
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(r"Please correct 2 fields:.*quiet hours start.*timezone", re.S))
    expect(page.get_by_label("Quiet hours start")).to_have_value("24")
    expect(page.get_by_label("Time zone")).to_have_value("Mars/Olympus")
    expect(page.get_by_label("Sender name")).to_have_value("Linen & Co")
    shot(page, "settings-error")
    # when they fix both and save again
    page.get_by_label("Quiet hours start").fill("22")
    page.get_by_label("Time zone").fill("Europe/Kyiv")
    page.get_by_role("button", name="Save settings").click()
    # then the page says so and shows the saved values
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("Quiet hours start")).to_have_value("22")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Kyiv")


def test_a_sendgrid_key_is_shown_only_by_its_last_four_characters(page, live_url, shop_id):
    # given the owner on the Settings page of a shop without its own key
    open_settings(page, live_url)
    expect(page.locator(".field", has=page.get_by_label("SendGrid API key"))).to_contain_text("not set")
    # when they paste a key and save
    page.get_by_label("SendGrid API key").fill(KEY)
    page.get_by_role("button", name="Save settings").click()
    # then the page shows "…" and the last 4, with an empty key field and a way to remove it
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_text(re.compile(r"set, ends in …WXYZ"))).to_be_visible()
    expect(page.get_by_label("SendGrid API key")).to_have_value("")
    expect(page.get_by_label(re.compile("Remove the key"))).not_to_be_checked()
    assert KEY not in page.content()
