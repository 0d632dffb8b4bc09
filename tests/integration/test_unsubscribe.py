"""Unsubscribe links and RFC 8058 one-click on each database: carts arrive through signed
webhooks, the customer follows the link from a reminder, and what that changes is read back."""
from __future__ import annotations

import base64
import logging
import re
import secrets
import struct

import pytest
from markupsafe import escape
from sqlalchemy import select

from bridge.contacts import ContactKeys
from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, OptOut, OutboxEntry, ReminderStep, Shop
from bridge.logs import KeyValueFormatter
from bridge.worker import run
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop, checkout, post_shopify
from webhooks.unsubscribe_texts import LANGUAGES, TEXTS, page_texts

EMAIL, PHONE, OTHER = "anna@example.com", "+380501234567", "bob@example.com"
OTHER_DOMAIN = "second-shop.myshopify.com"
ONE_CLICK = "List-Unsubscribe=One-Click"
CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def _shop_with_carts(runtime, client, clock, domain: str = SHOP_DOMAIN, **shop) -> int:
    """Anna's two carts (the newer one carries her phone) and Bob's, each planned 1 h / 24 h / 72 h."""
    shop_id = add_shopify_shop(runtime, domain, **shop)
    post_shopify(client, "checkouts/create", checkout("tok-a1", clock()), webhook_id="a1", domain=domain)
    run(runtime, once=True)
    clock.advance(minutes=5)
    with_phone = {**checkout("tok-a2", clock(), title="Wool Coat"), "phone": PHONE}
    post_shopify(client, "checkouts/create", with_phone, webhook_id="a2", domain=domain)
    post_shopify(client, "checkouts/create", checkout("tok-b1", clock(), email=OTHER), webhook_id="b1",
                 domain=domain)
    run(runtime, once=True)
    return shop_id


def _token(runtime, shop_id: int, email: str = EMAIL) -> str:
    keys = runtime.contacts()
    return keys.unsubscribe_token(shop_id, keys.email_hash(email))


def _carts(runtime, shop_id: int) -> dict[str, tuple[str, list[str]]]:
    """Cart token -> (state, step statuses in order)."""
    with unit_of_work(runtime.sessions) as session:
        carts = session.scalars(select(Cart).where(Cart.shop_id == shop_id))
        return {c.external_id: (c.state, list(session.scalars(select(ReminderStep.status).where(
            ReminderStep.cart_id == c.id).order_by(ReminderStep.position)))) for c in carts}


def _opt_outs(runtime) -> list[OptOut]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(OptOut).order_by(OptOut.id)))


def _shows(response, language: str, page: str, shop: str = "Test Shop") -> bool:
    html = response.get_data(as_text=True)
    return f'<html lang="{language}">' in html and all(
        str(escape(text)) in html for text in page_texts(language, page, shop).values())


def _recoded(token: str, first_bytes: bytes) -> str:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return base64.urlsafe_b64encode(first_bytes + raw[len(first_bytes):]).decode().rstrip("=")


OPEN = {"tok-a1": ("open", ["pending"] * 3), "tok-a2": ("open", ["pending"] * 3), "tok-b1": ("open", ["pending"] * 3)}
ANNA_STOPPED = {"tok-a1": ("suppressed", ["cancelled"] * 3), "tok-a2": ("suppressed", ["cancelled"] * 3),
                "tok-b1": ("open", ["pending"] * 3)}


def test_the_page_speaks_each_language_and_looking_at_it_changes_nothing(runtime, client, clock):
    # given a shop with Anna's carts and the link from her reminder
    shop_id = _shop_with_carts(runtime, client, clock)
    token = _token(runtime, shop_id)
    for language in LANGUAGES:
        # when the link is opened (as a person, or a mail scanner prefetching it) in each language
        response = client.get(f"/u/{token}?lang={language}")
        # then the page names the shop, says what unsubscribing does and posts its one button back
        assert response.status_code == 200 and _shows(response, language, "confirm")
        html = response.get_data(as_text=True)
        assert html.count("<form") == 1 and f'<form method="post" action="/u/{token}?lang={language}">' in html
    # and nothing was stored or stopped
    assert _opt_outs(runtime) == [] and _carts(runtime, shop_id) == OPEN


def test_the_page_language_falls_back_from_the_link_to_the_shop_to_english(runtime, client, clock):
    # given a Bulgarian shop
    shop_id = add_shopify_shop(runtime, language="bg")
    token = _token(runtime, shop_id)
    # when the link asks for a regional tag, an unsupported language, or nothing
    # then the regional tag counts as its language, the rest fall back to the shop's
    for query, language in (("?lang=uk-UA", "uk"), ("?lang=KK", "kk"), ("?lang=de", "bg"), ("", "bg")):
        assert _shows(client.get(f"/u/{token}{query}"), language, "confirm")
    # and a shop whose language we do not speak falls back to English
    with unit_of_work(runtime.sessions) as session:
        session.get(Shop, shop_id).language = "fr"
    assert _shows(client.get(f"/u/{token}"), "en", "confirm")


def test_the_shop_name_is_shown_as_text_never_as_markup(runtime, client, clock):
    # given a shop whose name looks like markup
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as session:
        session.get(Shop, shop_id).name = 'Anna & <b onclick="x()">Co</b>'
    # when the page is opened
    html = client.get(f"/u/{_token(runtime, shop_id)}?lang=en").get_data(as_text=True)
    # then the name is escaped
    assert "Anna &amp; &lt;b onclick=&#34;x()&#34;&gt;Co&lt;/b&gt;" in html and "<b " not in html


def test_the_button_opts_the_contact_out_of_every_cart_and_the_phone_too(runtime, client, clock):
    # given Anna's two carts (one with her phone) and Bob's, all with pending reminders
    shop_id = _shop_with_carts(runtime, client, clock)
    token = _token(runtime, shop_id)
    # when Anna presses the page's button
    response = client.post(f"/u/{token}?lang=uk")
    # then she sees she is unsubscribed, with a way back
    assert response.status_code == 200 and _shows(response, "uk", "done")
    assert f'action="/u/{token}/resubscribe?lang=uk"' in response.get_data(as_text=True)
    # and her email and phone are opted out by her, every step of both her carts is cancelled
    keys = runtime.contacts()
    assert [(o.kind, o.contact_hash, o.source, o.created_by, o.active) for o in _opt_outs(runtime)] == [
        ("email", keys.email_hash(EMAIL), "link", "customer", True),
        ("phone", keys.phone_hash(PHONE), "link", "customer", True)]
    assert _carts(runtime, shop_id) == ANNA_STOPPED
    # and when the whole sequence time passes, only Bob is reminded
    clock.advance(days=4)
    run(runtime, once=True)
    with unit_of_work(runtime.sessions) as session:
        assert set(session.scalars(select(OutboxEntry.to_email))) == {OTHER}


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_one_click_post_opts_out_with_a_short_plain_answer(runtime, client, clock, content_type):
    # given Anna's carts and the List-Unsubscribe URL of her Russian reminder
    shop_id = _shop_with_carts(runtime, client, clock)
    url = f"/u/{_token(runtime, shop_id)}?lang=ru"
    # when her mailbox provider POSTs the RFC 8058 body (no cookies, no redirects)
    response = client.post(url, data={"List-Unsubscribe": "One-Click"}, content_type=content_type)
    # then the answer is a plain 200 and she is opted out, with the source on record
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == TEXTS["ru"]["one_click"]
    assert {(o.source, o.created_by, o.active) for o in _opt_outs(runtime)} == {("one_click", "customer", True)}
    assert _carts(runtime, shop_id) == ANNA_STOPPED


def test_opting_out_again_is_harmless_and_the_page_then_offers_to_resubscribe(runtime, client, clock):
    # given Anna unsubscribed by one-click
    shop_id = _shop_with_carts(runtime, client, clock)
    url = f"/u/{_token(runtime, shop_id)}"
    client.post(url, data=ONE_CLICK, content_type="application/x-www-form-urlencoded")
    first = [(o.id, o.source, o.created_at) for o in _opt_outs(runtime)]
    # when the provider repeats it, she presses the page's button too, and opens the link later
    clock.advance(hours=1)
    again = client.post(url, data=ONE_CLICK, content_type="application/x-www-form-urlencoded")
    button = client.post(url + "?lang=kk")
    page = client.get(url + "?lang=kk")
    # then every answer is a success and the first opt-out stands unchanged
    assert (again.status_code, button.status_code) == (200, 200) and _shows(button, "kk", "done")
    assert [(o.id, o.source, o.created_at) for o in _opt_outs(runtime)] == first
    assert _carts(runtime, shop_id) == ANNA_STOPPED
    # and the page says she is already out, with a resubscribe button instead of unsubscribe
    assert _shows(page, "kk", "already")
    assert TEXTS["kk"]["confirm.button"] not in page.get_data(as_text=True)


def test_resubscribe_lifts_the_opt_out(runtime, client, clock):
    # given Anna unsubscribed with the button
    shop_id = _shop_with_carts(runtime, client, clock)
    url = f"/u/{_token(runtime, shop_id)}"
    client.post(url)
    # when she changes her mind
    clock.advance(minutes=3)
    response = client.post(f"{url}/resubscribe?lang=bg")
    # then she is told reminders may come again, and her email's opt-out is lifted by her
    assert response.status_code == 200 and _shows(response, "bg", "resubscribed")
    email = _opt_outs(runtime)[0]
    assert (email.kind, email.active, email.removed_by, email.removed_at) == ("email", False, "customer", clock())
    # and the page offers to unsubscribe again
    assert _shows(client.get(url + "?lang=bg"), "bg", "confirm")


# bridge.services.optouts.widen takes the phone from the contact's newest cart only: after an
# opt-out every cart of hers has the same updated_at, so which cart is "newest" is up to the database.
def test_resubscribe_lifts_the_phone_opted_out_with_the_email(runtime, client, clock):
    # given Anna unsubscribed with the button, which opted out her phone too
    shop_id = _shop_with_carts(runtime, client, clock)
    url = f"/u/{_token(runtime, shop_id)}"
    client.post(url)
    # when she resubscribes
    client.post(f"{url}/resubscribe")
    # then both rows are lifted
    assert [(o.kind, o.active, o.removed_by) for o in _opt_outs(runtime)] == [
        ("email", False, "customer"), ("phone", False, "customer")]


def test_a_phone_given_on_an_older_cart_is_opted_out_too(runtime, client, clock):
    # given Anna left a cart with her phone, then a newer one without it
    shop_id = add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", {**checkout("tok-a1", clock()), "phone": PHONE}, webhook_id="a1")
    run(runtime, once=True)
    clock.advance(minutes=5)
    post_shopify(client, "checkouts/create", checkout("tok-a2", clock()), webhook_id="a2")
    run(runtime, once=True)
    # when she unsubscribes
    client.post(f"/u/{_token(runtime, shop_id)}")
    # then her phone is opted out as well as her email
    assert [o.kind for o in _opt_outs(runtime)] == ["email", "phone"]


def _bad_tokens(runtime, shop_id: int) -> dict[str, str]:
    good = _token(runtime, shop_id)
    raw = base64.urlsafe_b64decode(good + "==")
    email_hash = runtime.contacts().email_hash(EMAIL)
    return {"tampered mac": base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode().rstrip("="),
            "random": base64.urlsafe_b64encode(secrets.token_bytes(len(raw))).decode().rstrip("="),
            "short random": secrets.token_urlsafe(12), "truncated": good[:-3], "not base64": "%21%21%21",
            "other installation": ContactKeys.from_secret("another-secret").unsubscribe_token(shop_id, email_hash),
            "unknown shop": runtime.contacts().unsubscribe_token(shop_id + 999, email_hash)}


def test_forged_mangled_and_unknown_shop_tokens_get_404_and_store_nothing(runtime, client, clock):
    # given Anna's carts
    shop_id = _shop_with_carts(runtime, client, clock)
    for name, token in _bad_tokens(runtime, shop_id).items():
        # when a bad token is opened, posted, one-clicked or resubscribed
        answers = [client.get(f"/u/{token}?lang=kk"), client.post(f"/u/{token}?lang=kk"),
                   client.post(f"/u/{token}?lang=kk", data=ONE_CLICK, content_type="application/x-www-form-urlencoded"),
                   client.post(f"/u/{token}/resubscribe?lang=kk")]
        # then each is a 404 saying the link is not valid, in the language asked for
        for response in answers:
            assert response.status_code == 404 and _shows(response, "kk", "invalid"), name
            assert "<form" not in response.get_data(as_text=True), name
    # and nothing was stored or stopped
    assert _opt_outs(runtime) == [] and _carts(runtime, shop_id) == OPEN


def test_a_token_for_one_shop_can_never_touch_another(runtime, client, clock):
    # given two shops where Anna left carts with the same email
    shop_a = _shop_with_carts(runtime, client, clock)
    shop_b = _shop_with_carts(runtime, client, clock, domain=OTHER_DOMAIN)
    token_a = _token(runtime, shop_a)
    # when shop A's token is rewritten to name shop B
    forged = _recoded(token_a, struct.pack(">I", shop_b))
    # then it does not verify, and nothing is stored
    assert client.post(f"/u/{forged}").status_code == 404 and _opt_outs(runtime) == []
    # when shop A's genuine token is used
    assert client.post(f"/u/{token_a}").status_code == 200
    # then only shop A has the opt-out and stopped carts; shop B's reminders stand
    assert {o.shop_id for o in _opt_outs(runtime)} == {shop_a}
    assert (_carts(runtime, shop_a), _carts(runtime, shop_b)) == (ANNA_STOPPED, OPEN)


def test_every_answer_is_private_uncached_and_unframeable(runtime, client, clock):
    # given a shop and a valid and an invalid link
    shop_id = add_shopify_shop(runtime)
    url = f"/u/{_token(runtime, shop_id)}"
    # when each kind of answer is produced
    answers = [client.get(url), client.post(url), client.post(url, data=ONE_CLICK,
               content_type="application/x-www-form-urlencoded"), client.post(url + "/resubscribe"),
               client.get("/u/not-a-token")]
    # then each carries the headers that keep the token out of caches, referrers, indexes and frames
    for response in answers:
        headers = response.headers
        assert (headers["Cache-Control"], headers["Referrer-Policy"], headers["X-Robots-Tag"]) == (
            "no-store", "no-referrer", "noindex")
        policy = {d.strip() for d in headers["Content-Security-Policy"].split(";")}
        assert {"default-src 'none'", "style-src 'unsafe-inline'", "form-action 'self'",
                "frame-ancestors 'none'"} <= policy
    # and the pages are self-contained, phone-sized HTML
    html = answers[0].get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert not re.search(r"<(script|link|img)\b|src=|https?://", html)


def test_an_opt_out_is_logged_by_shop_and_code_without_the_token_or_the_address(runtime, client, clock, caplog):
    # given Anna's carts and her link
    shop_id = _shop_with_carts(runtime, client, clock)
    token = _token(runtime, shop_id)
    caplog.set_level(logging.DEBUG)
    # when she unsubscribes, resubscribes and a forged link is tried
    client.post(f"/u/{token}")
    client.post(f"/u/{token}/resubscribe")
    client.get(f"/u/{token[:-2]}")
    # then the log lines carry the shop and a code, and never the token or a contact
    text = "\n".join(KeyValueFormatter("%(name)s %(message)s").format(r) for r in caplog.records)
    assert f"code=opt_out_link shop_id={shop_id}" in text and "code=opt_out_lifted" in text
    assert "code=unsubscribe_invalid_link" in text
    for private in (token, token[:20], EMAIL, PHONE, runtime.contacts().email_hash(EMAIL)):
        assert all(private not in str(value) for r in caplog.records for value in vars(r).values())


def test_every_page_text_exists_in_every_language_and_is_translated():
    # given the English texts as the reference
    english = TEXTS["en"]
    # then every language has exactly the same keys, none empty, with the shop placeholder kept
    assert set(TEXTS) == set(LANGUAGES)
    for language, texts in TEXTS.items():
        assert set(texts) == set(english), language
        assert all(value.strip() and ("{shop}" in value) == ("{shop}" in english[key])
                   for key, value in texts.items()), language
    # and no string is left in English: each is Cyrillic, differs from English and from the others
    for language in ("ru", "uk", "bg", "kk"):
        assert all(CYRILLIC.search(v) and v != english[k] for k, v in TEXTS[language].items()), language
    assert len({tuple(t.values()) for t in TEXTS.values()}) == len(LANGUAGES)
    # and the letters only Ukrainian and Kazakh use are where they belong
    assert re.search("[іїєґ]", " ".join(TEXTS["uk"].values()))
    assert re.search("[әғқңөұүһ]", " ".join(TEXTS["kk"].values()))
