"""The running app in a real browser: Debian's Chromium driven by Playwright.

``live_url`` serves the test app (the same runtime and database as the test) from a
thread on 127.0.0.1; ``page`` is a fresh browser context each test. Screenshots go to
``tests/e2e/artifacts/`` (kept by CI as test artifacts, ignored by git).
Playwright never downloads a browser here: it drives ``/usr/bin/chromium``
(``CARTBRIDGE_CHROMIUM`` overrides), which ``.ci/dev test`` installs when missing.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.admin import PASSWORD, add_user
from tests.support.shops import add_shopify_shop

CHROMIUM = os.environ.get("CARTBRIDGE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
# The flags a sandboxed CI machine with a closed network needs (no first-run, no
# background calls to Google's services, no GPU, and no setuid sandbox as root).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def phone(browser):
    """A 375 px wide touch screen: the admin page must be usable on a phone."""
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def shop_id(runtime):
    """A Shopify shop whose owner (owner@example.com) may sign in."""
    shop = add_shopify_shop(runtime)
    add_user(runtime, "owner@example.com", shop_ids=[shop])
    return shop


def open_tab(page, live_url: str, tab: str) -> None:
    """Sign in and open one of the shop's tabs from the navigation, as a merchant would."""
    sign_in_page(page, live_url)
    page.get_by_role("navigation", name="Shop pages").get_by_role("link", name=tab).click()


def sign_in_page(page, live_url: str, email: str = "owner@example.com", password: str = PASSWORD) -> None:
    page.goto(f"{live_url}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shot(page, name: str) -> Path:
    """Keep a screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
