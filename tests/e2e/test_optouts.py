"""The Opt-outs page in a real browser: add one through the form, remove it after the
confirmation, and download the CSV export."""
from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import shot, sign_in_page


def test_a_merchant_adds_removes_and_exports_opt_outs(runtime, page, live_url, tmp_path, shop_id):
    # given a signed-in owner on the shop's Opt-outs page
    sign_in_page(page, live_url)
    page.goto(f"{live_url}/admin/shops/{shop_id}/optouts")
    expect(page.get_by_role("heading", name="Opt-outs", exact=True)).to_be_visible()
    # when an address is opted out through the form
    page.get_by_label("Email or phone").fill("anna@example.com")
    page.get_by_label("Reason (optional)").fill("asked by email")
    page.get_by_role("button", name="Add opt-out").click()
    # then it is listed as active, with who added it
    expect(page.get_by_role("status")).to_have_text("Opt-out added.")
    row = page.get_by_role("row", name="anna@example.com")
    expect(row).to_contain_text("asked by email")
    expect(row).to_contain_text("by owner@example.com")
    expect(row).to_contain_text("active")
    shot(page, "optouts")
    # when it is removed, after the confirmation
    row.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("heading", name="Remove this opt-out?")).to_be_visible()
    page.get_by_role("button", name="Yes, remove the opt-out").click()
    # then the row stays, shown as removed
    expect(page.get_by_role("status")).to_have_text("Opt-out removed.")
    row = page.get_by_role("row", name="anna@example.com")
    expect(row).to_contain_text("removed")
    expect(row.get_by_role("button", name="Remove")).to_have_count(0)
    # when the CSV is downloaded
    name, lines = _download_csv(page, tmp_path)
    # then it is named for the shop and starts with the header line
    assert name.startswith("optouts-cartbridge-test.myshopify.com-")
    assert lines[0] == "contact,kind,active,source,reason,created_at,created_by,removed_at,removed_by"
    assert lines[1].startswith("anna@example.com,email,no,merchant,asked by email,")


def _download_csv(page, folder: Path) -> tuple[str, list[str]]:
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    saved = folder / info.value.suggested_filename
    info.value.save_as(saved)
    return saved.name, saved.read_text(encoding="utf-8").splitlines()


def test_the_opt_outs_page_fits_a_phone(runtime, phone, live_url, shop_id):
    # given an owner with one opt-out, on a 375 px wide phone
    sign_in_page(phone, live_url)
    phone.goto(f"{live_url}/admin/shops/{shop_id}/optouts")
    phone.get_by_label("Email or phone").fill("+380 50 123 45 67")
    phone.get_by_role("button", name="Add opt-out").click()
    # then the page does not scroll sideways (the table scrolls inside its own box) and the row is there
    expect(phone.get_by_role("row", name="+380 50 123 45 67")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone, "optouts-phone")
