"""The Dashboard in a real browser: figures, the chart, the period switch by keyboard, a phone."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in_page
from tests.support.admin import add_user
from tests.support.story import seed_story


def figure(page, label: str):
    return page.locator(f'[data-figure="{label}"]')


def tab_to(page, name: str, limit: int = 40) -> None:
    """Press Tab until the focused element is the link named ``name``, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_the_dashboard_reads_well_and_switches_period_by_keyboard(runtime, client, clock, page, live_url):
    # given the story's shop and its owner
    story = seed_story(runtime, client, clock)
    add_user(runtime, shop_ids=[story.shop_id])
    # when the owner signs in (one shop: straight to its dashboard)
    sign_in_page(page, live_url)
    expect(page).to_have_url(f"{live_url}/admin/shops/{story.shop_id}/")
    # then the figures and the chart are shown
    expect(figure(page, "Carts abandoned")).to_have_text("3")
    expect(figure(page, "Recovered")).to_have_text("1")
    expect(figure(page, "Recovered revenue")).to_have_text("$98.00")
    expect(figure(page, "Recovery rate")).to_have_text("33%")
    expect(page.locator("svg[role=img]")).to_be_visible()
    expect(page.get_by_role("link", name="Last 30 days")).to_have_attribute("aria-current", "page")
    shot(page, "dashboard")
    # when the owner tabs to "Last 7 days" and presses Enter
    tab_to(page, "Last 7 days")
    page.keyboard.press("Enter")
    # then the 7-day period is shown and marked current
    expect(page).to_have_url(f"{live_url}/admin/shops/{story.shop_id}/?days=7")
    expect(page.get_by_role("link", name="Last 7 days")).to_have_attribute("aria-current", "page")
    expect(figure(page, "Carts abandoned")).to_have_text("3")


def test_the_dashboard_fits_a_phone(runtime, client, clock, phone, live_url):
    # given the story's shop and its owner on a 375 px phone
    story = seed_story(runtime, client, clock)
    add_user(runtime, shop_ids=[story.shop_id])
    sign_in_page(phone, live_url)
    # when the dashboard is shown
    expect(figure(phone, "Recovered")).to_have_text("1")
    expect(phone.locator("svg[role=img]")).to_be_visible()
    shot(phone, "dashboard-phone")
    # then nothing scrolls sideways
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
