"""The Sequence page in a real browser: a discount changed and saved, a bad delay refused next
to its field, the whole form usable from the keyboard, and on a phone."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import open_tab, shot


def open_sequence(page, live_url: str) -> None:
    open_tab(page, live_url, "Sequence")
    expect(page.get_by_role("heading", name="Reminder sequence")).to_be_visible()


def test_giving_step_2_a_15_percent_code(page, live_url, shop_id):
    # given the owner on the Sequence page of a shop with plain reminders
    open_sequence(page, live_url)
    summary = page.locator("#summary")
    expect(summary).to_contain_text("1 h, then 24 h, then 3 days")
    # when they give step 2 a 15% code and save
    step = page.get_by_role("group", name="Step 2")
    step.get_by_label("Discount code").select_option("percentage")
    step.get_by_label("Value (percent, or amount in the cart's currency)").fill("15")
    page.get_by_role("button", name="Save", exact=True).click()
    # then the page says it is saved, and the summary names the offer
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(summary).to_contain_text("then 24 h with 15% off, then 3 days")
    expect(step.get_by_label("Discount code")).to_have_value("percentage")
    expect(step.get_by_label("Enabled")).to_be_checked()
    expect(step.get_by_label("New customers only")).not_to_be_checked()
    shot(page, "sequence")


def test_a_bad_delay_is_refused_next_to_the_field(page, live_url, shop_id):
    # given the owner on the Sequence page
    open_sequence(page, live_url)
    delay = page.get_by_role("group", name="Step 2").get_by_label("Delay (minutes)")
    # when they type a word as step 2's delay and save
    delay.fill("abc")
    page.get_by_role("button", name="Save", exact=True).click()
    # then the reason stands next to the field, which keeps the typed text
    expect(page.locator("#e-step2_delay")).to_have_text("Delay (minutes) must be a whole number, got 'abc'")
    expect(delay).to_have_value("abc")
    expect(delay).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("Please correct 1 field")
    # and the saved summary is unchanged
    expect(page.locator("#summary")).to_contain_text("1 h, then 24 h, then 3 days")
    shot(page, "sequence-error")


def test_the_form_works_from_the_keyboard_alone(page, live_url, shop_id):
    # given the owner on the Sequence page, with step 1's delay changed by typing
    open_sequence(page, live_url)
    page.get_by_role("group", name="Step 1").get_by_label("Delay (minutes)").fill("45")
    # when they press Tab until Save has the focus
    for _ in range(120):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Save":
            break
    # then Save is reached, and Enter saves
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#summary")).to_contain_text("After 1 h idle: 1 h, then 24 h")


def test_enter_in_a_field_saves_instead_of_removing_a_step(page, live_url, shop_id):
    # given the owner typing the idle threshold
    open_sequence(page, live_url)
    idle = page.get_by_label("Idle threshold (minutes)")
    idle.fill("30")
    # when they press Enter in the field
    idle.press("Enter")
    # then the form is saved (not "Remove step 1", the first visible button)
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("#summary")).to_contain_text("After 30 min idle: 1 h")
    expect(page.get_by_role("group", name="Step 3")).to_be_visible()


def test_adding_a_step_and_switching_one_off_on_a_phone(phone, live_url, shop_id):
    # given the owner on a 375 px screen
    open_sequence(phone, live_url)
    # when they add a step
    phone.get_by_role("button", name="Add a step").click()
    # then a fourth, empty step is in the form, and nothing is wider than the screen
    fourth = phone.get_by_role("group", name="Step 4")
    expect(fourth).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone, "sequence-phone")
    # when it gets a 7-day delay, step 3 is switched off, and the form is saved
    fourth.get_by_label("Delay (minutes)").fill("10080")
    phone.get_by_role("group", name="Step 3").get_by_label("Enabled").uncheck()
    phone.get_by_role("button", name="Save", exact=True).click()
    # then the summary leaves step 3 out and names the new one
    expect(phone.locator("#summary")).to_contain_text("1 h, then 24 h, then 7 days after the customer left.")
