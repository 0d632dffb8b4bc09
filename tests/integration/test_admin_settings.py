"""The Settings page through the real app: stored values, validation shared with `config
import`, the write-only SendGrid key, and the shop's connection status."""
from __future__ import annotations

import html as html_lib

import pytest

from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop
from bridge.worker import run
from tests.support.admin import add_user, sign_in
from tests.support.shops import add_shopify_shop, checkout, post_shopify

KEY = "SG.AbCdEfGhIjKlMnOpQrStUv.0123456789abcdefghijklmnopqrstuvwxyzABCWXYZ"
VALID = {"sender_name": "Linen & Co", "sender_email": "hello@linen.example", "consent_policy": "required",
         "quiet_hours_start": "22", "quiet_hours_end": "7", "frequency_cap_hours": "24",
         "reentry_cooldown_days": "14", "open_order_check": "1", "timezone": "Europe/Kyiv", "language": "uk"}


@pytest.fixture
def shop_id(runtime, client):
    shop_id = add_shopify_shop(runtime)
    add_user(runtime, shop_ids=[shop_id])
    return shop_id


@pytest.fixture
def csrf(client, shop_id):
    return sign_in(client)


def _shop(runtime, shop_id: int) -> Shop:
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        session.expunge(shop)
        return shop


def _post(client, shop_id: int, csrf: str, **changes):
    return client.post(f"/admin/shops/{shop_id}/settings", data={**VALID, "csrf_token": csrf, **changes})


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def test_the_page_shows_the_stored_settings(runtime, client, shop_id, csrf):
    # given a shop with its sender and manners set
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        shop.sender_name, shop.sender_email = "Old Mill", "mill@old.example"
        shop.timezone, shop.quiet_hours_start = "Asia/Almaty", 20
    # when the page is opened
    response = client.get(f"/admin/shops/{shop_id}/settings")
    # then each stored value fills its field, and the key is "not set"
    page = _text(response)
    assert response.status_code == 200
    for value in ('value="Old Mill"', 'value="mill@old.example"', 'value="Asia/Almaty"', 'value="20"'):
        assert value in page
    assert "not set" in page and '<option value="Europe/Kyiv">' in page
    assert '<option value="kk">Қазақша</option>' in page


def test_saving_valid_values_persists_them_and_says_saved(runtime, client, shop_id, csrf):
    # given the signed-in owner
    # when valid settings are posted
    response = _post(client, shop_id, csrf)
    # then they are stored and the page says so
    assert response.status_code == 303 and "notice=saved" in response.headers["Location"]
    shop = _shop(runtime, shop_id)
    assert (shop.sender_name, shop.sender_email, shop.consent_policy, shop.timezone, shop.language) == (
        "Linen & Co", "hello@linen.example", "required", "Europe/Kyiv", "uk")
    assert (shop.quiet_hours_start, shop.quiet_hours_end, shop.frequency_cap_hours, shop.reentry_cooldown_days,
            shop.open_order_check) == (22, 7, 24, 14, True)
    assert "Saved." in _text(client.get(response.headers["Location"]))


def test_an_unticked_check_and_empty_sender_fields_are_saved_as_off_and_empty(runtime, client, shop_id, csrf):
    # given a form without the open-order tick and with the sender fields cleared
    data = {k: v for k, v in VALID.items() if k != "open_order_check"}
    # when it is posted
    response = client.post(f"/admin/shops/{shop_id}/settings",
                           data={**data, "sender_name": " ", "sender_email": "", "csrf_token": csrf})
    # then the check is off and the sender falls back to the instance's
    assert response.status_code == 303
    shop = _shop(runtime, shop_id)
    assert (shop.open_order_check, shop.sender_name, shop.sender_email) == (False, None, None)


@pytest.mark.parametrize("field, typed, reason", [
    ("quiet_hours_start", "24", "Quiet hours start must be a whole number from 0 to 23"),
    ("frequency_cap_hours", "-1", "Frequency cap (hours) must be a whole number from 0 to 336"),
    ("reentry_cooldown_days", "two", "must be a whole number, got 'two'"),
    ("timezone", "Mars/Olympus", "Time zone must be an IANA time zone such as Europe/Kyiv, got 'Mars/Olympus'"),
    ("language", "xx", "Default language must be one of en, ru, uk, bg, kk"),
    ("sender_email", "not-an-email", "Sender address must be an email address, or left empty"),
    ("consent_policy", "nobody", "Consent policy must be one of: everyone, first_only, required"),
    ("sendgrid_api_key", "abc", "SendGrid API key must look like SG.<22 characters>.<43 characters>"),
])
def test_a_bad_value_is_refused_with_its_reason_and_nothing_is_saved(runtime, client, shop_id, csrf,
                                                                     field, typed, reason):
    # given a form with one bad value among good ones
    before = _shop(runtime, shop_id)
    # when it is posted
    response = _post(client, shop_id, csrf, **{field: typed})
    # then the page comes back with 422, the field named with its reason and the typed values kept
    page = _text(response)
    assert response.status_code == 422
    assert reason in page and f'href="#f-{field}"' in page
    assert 'value="Linen & Co"' in page and 'value="7"' in page
    if field not in ("sendgrid_api_key", "language", "consent_policy"):
        assert f'value="{typed}"' in page
    if field == "sendgrid_api_key":
        assert 'name="sendgrid_api_key" value=""' in page
    # and nothing was stored
    after = _shop(runtime, shop_id)
    assert (after.sender_name, after.quiet_hours_start, after.timezone, after.language, after.sendgrid_api_key_enc) == (
        before.sender_name, before.quiet_hours_start, before.timezone, before.language, None)


def test_the_key_is_stored_sealed_and_shown_only_as_its_last_four(runtime, client, shop_id, csrf):
    # given the owner types the shop's SendGrid key
    # when the form is saved and the page opened again
    assert _post(client, shop_id, csrf, sendgrid_api_key=f"  {KEY} ").status_code == 303
    page = client.get(f"/admin/shops/{shop_id}/settings").get_data(as_text=True)
    # then the column holds ciphertext that opens to the key, and the page shows only "…WXYZ"
    sealed = _shop(runtime, shop_id).sendgrid_api_key_enc
    assert KEY.encode() not in bytes(sealed) and runtime.box.open(sealed) == KEY
    assert "set, ends in …WXYZ" in page
    assert KEY not in page and KEY[3:25] not in page and KEY[-12:] not in page


def test_a_good_key_is_not_echoed_when_another_field_is_refused(runtime, client, shop_id, csrf):
    # given a valid key typed together with a bad quiet hour
    # when the form is posted
    response = _post(client, shop_id, csrf, sendgrid_api_key=KEY, quiet_hours_end="25")
    # then the form comes back without the key in it, and the key was not stored
    assert response.status_code == 422
    assert KEY not in response.get_data(as_text=True)
    assert _shop(runtime, shop_id).sendgrid_api_key_enc is None


def test_an_empty_key_field_keeps_the_key_and_remove_clears_it(runtime, client, shop_id, csrf):
    # given a shop with its own key
    _post(client, shop_id, csrf, sendgrid_api_key=KEY)
    # when the form is saved with the key field empty, then with "remove the key" ticked
    _post(client, shop_id, csrf, sender_name="Kept")
    kept = _shop(runtime, shop_id).sendgrid_api_key_enc
    response = _post(client, shop_id, csrf, remove_sendgrid_api_key="1")
    # then the empty field kept the key, and the tick removed it
    assert kept is not None and runtime.box.open(kept) == KEY
    assert response.status_code == 303 and _shop(runtime, shop_id).sendgrid_api_key_enc is None
    assert "not set" in _text(client.get(f"/admin/shops/{shop_id}/settings"))


def test_typing_a_key_and_ticking_remove_is_refused(runtime, client, shop_id, csrf):
    # given a shop with its own key
    _post(client, shop_id, csrf, sendgrid_api_key=KEY)
    # when a new key is typed and "remove" ticked in the same post
    other = KEY[:-4] + "QQQQ"
    response = _post(client, shop_id, csrf, sendgrid_api_key=other, remove_sendgrid_api_key="1")
    # then it is refused and the first key stays
    assert response.status_code == 422 and "cannot be typed and removed at once" in _text(response)
    assert runtime.box.open(_shop(runtime, shop_id).sendgrid_api_key_enc) == KEY


def test_connection_status_shows_the_last_webhook_and_the_dead_deliverys_reason(runtime, client, clock, shop_id,
                                                                                csrf):
    # given a good checkout webhook, then an hour later a signed but malformed one, processed by the worker
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="ok-1")
    clock.advance(hours=1)
    post_shopify(client, "checkouts/update", b"{not json", webhook_id="bad-1")
    run(runtime, once=True)
    # when the settings page is opened
    page = _text(client.get(f"/admin/shops/{shop_id}/settings"))
    # then it shows the last delivery's time and topic, the error count and the dead one's reason
    assert "2026-11-23 11:00 UTC" in page and "checkouts/update" in page
    assert "Webhook errors (7 days)" in page and '<span class="badge bad">1</span>' in page
    assert "unparseable body: JSONDecodeError" in page
    assert "{not json" not in page
    assert "present" in page and "installed" in page


def test_old_dead_deliveries_leave_the_seven_day_count(runtime, client, clock, shop_id, csrf):
    # given a dead delivery eight days ago
    post_shopify(client, "checkouts/update", b"[not json", webhook_id="old-bad")
    run(runtime, once=True)
    clock.advance(days=8)
    # when the page is opened
    page = _text(client.get(f"/admin/shops/{shop_id}/settings"))
    # then the error count is back to 0 and the list is gone
    assert '<span class="badge good">0</span>' in page and "Recent webhook errors" not in page


def test_another_shops_settings_are_not_found(runtime, client, shop_id, csrf):
    # given a second shop the user has no grant for
    other = add_shopify_shop(runtime, "not-mine.myshopify.com")
    # when its settings are read or posted
    read = client.get(f"/admin/shops/{other}/settings")
    write = _post(client, other, csrf)
    # then both are 404 and its settings are untouched
    assert (read.status_code, write.status_code) == (404, 404)
    assert _shop(runtime, other).sender_name is None


def test_a_post_without_the_csrf_token_is_refused(runtime, client, shop_id, csrf):
    # given a signed-in session
    # when the form is posted without its CSRF token
    response = client.post(f"/admin/shops/{shop_id}/settings", data=VALID)
    # then it is refused and nothing is saved
    assert response.status_code == 400
    assert _shop(runtime, shop_id).sender_name is None


def test_the_key_never_reaches_the_logs(runtime, client, shop_id, csrf, log_text):
    # given debug logging on
    # when a key is saved, a malformed one refused, and the page shown
    _post(client, shop_id, csrf, sendgrid_api_key=KEY)
    _post(client, shop_id, csrf, sendgrid_api_key="SG.almost-a-key-but-secret-9876")
    client.get(f"/admin/shops/{shop_id}/settings")
    # then the log says a key was set, and holds neither key
    logs = log_text()
    assert "code=shop_sendgrid_key_set" in logs
    assert KEY not in logs and KEY[-20:] not in logs and "almost-a-key-but-secret" not in logs
