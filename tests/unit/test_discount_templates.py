"""Discount codes in the default reminder templates: steps 2 and 3, "your code expires soon", escaping."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bridge.discounts import EXPIRY_STEP_OFFSET, DiscountKind, DiscountOffer
from bridge.money import format_datetime_local, format_money, format_percent
from bridge.templating import SUPPORTED_LANGUAGES, check_template, default_template, render_reminder
from bridge.templating_context import sample_cart

CODE = "CB-7KQ2M9XH4D"
EXPIRES = datetime(2025, 1, 18, 12, 0, tzinfo=UTC)
RECOVERY = "https://bridge.example.com/r/abc?t=1&s=2"
UNSUBSCRIBE = "https://bridge.example.com/u/abc"
CURRENCY = {"en": "USD", "ru": "RUB", "uk": "UAH", "bg": "EUR", "kk": "KZT"}
EXPIRING = EXPIRY_STEP_OFFSET + 2

# How each language words things, so a test can tell the block is there (or not).
FREE_SHIPPING = {"en": r"free shipping", "ru": r"бесплатн\w+ доставк", "uk": r"безкоштовн\w+ доставк",
                 "bg": r"безплатн\w+ доставк", "kk": r"тегін жеткізу"}  # any case form
AMOUNT_OFF = {"en": "off your", "ru": "Скидка", "uk": "Знижка", "bg": "Отстъпка", "kk": "жеңілдік"}
VALID_UNTIL = {"en": "Valid until", "ru": "Действует до", "uk": "Діє до", "bg": "Валиден е до",
               "kk": "мына уақытқа дейін жарамды"}
PERSONAL_CODE = {"en": "personal code", "ru": "персональный код", "uk": "персональний код",
                 "bg": "персонален код", "kk": "Жеке код"}
AUTOMATIC = {"en": "automatically", "ru": "автоматически", "uk": "автоматично", "bg": "автоматично",
             "kk": "автоматты"}
ANY_DISCOUNT_WORD = re.compile(r"discount|скидк|знижк|отстъпк|жеңілдік|CB-", re.IGNORECASE)


def cart_in(language):
    return replace(sample_cart(CURRENCY[language]), locale=language)


def offer(kind=DiscountKind.PERCENTAGE, value="10", currency="USD"):
    return DiscountOffer(code=CODE, kind=kind, value=Decimal(value), currency=currency, expires_at=EXPIRES)


def render(cart, step, discount=None, *, shop_name="Acme & Sons", recovery_url=RECOVERY):
    return render_reminder(cart, step=step, shop_name=shop_name, shop_language=None, recovery_url=recovery_url,
                           unsubscribe_url=UNSUBSCRIBE, tz_name="UTC", discount=discount)


def unescaped(html):
    return html.replace("&amp;", "&")


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("step", [2, 3])
def test_a_percentage_code_shows_the_code_value_and_expiry_in_html_and_text(language, step):
    # given a customer in the language and a 10% code for this step
    cart = cart_in(language)
    # when the step is rendered with the code
    message = render(cart, step, offer())
    # then both parts show the code, the value as the customer writes it and the expiry
    value = format_percent(Decimal("10"), language)
    expiry = format_datetime_local(EXPIRES, language, "UTC")
    for part in (message.html, message.text):
        assert CODE in part
        assert value in part
        assert expiry in part
        assert VALID_UNTIL[language] in part
        assert AUTOMATIC[language] in part


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_step_two_subject_announces_the_offer(language):
    # given a customer with a 10% code in step 2
    # when the reminder is rendered
    subject = render(cart_in(language), 2, offer()).subject
    # then the subject carries the value (and so differs from the plain reminder's)
    assert format_percent(Decimal("10"), language) in subject
    assert subject != render(cart_in(language), 2).subject


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_a_fixed_amount_code_shows_the_amount_in_the_carts_currency(language):
    # given a code worth 500 in the cart's currency
    currency = CURRENCY[language]
    # when step 2 is rendered
    message = render(cart_in(language), 2, offer(DiscountKind.FIXED_AMOUNT, "500", currency))
    # then subject, html and text show the amount formatted for the customer
    amount = format_money(Decimal("500"), currency, language)
    assert amount in message.subject and amount in message.html and amount in message.text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("step", [2, 3])
def test_a_free_shipping_code_is_worded_as_free_shipping_with_no_empty_value(language, step):
    # given a free-shipping code (it has no value to print)
    # when the step is rendered
    message = render(cart_in(language), step, offer(DiscountKind.FREE_SHIPPING, "0"))
    # then it says free shipping, shows the code, and never says "<nothing> off"
    for part in (message.html, message.text):
        assert re.search(FREE_SHIPPING[language], part, re.IGNORECASE)
        assert CODE in part
        assert AMOUNT_OFF[language].lower() not in part.lower()
    if step == 2:
        assert re.search(FREE_SHIPPING[language], message.subject, re.IGNORECASE)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("step", [2, 3])
def test_without_a_code_there_is_no_discount_block_at_all(language, step):
    # given a step that carries no code
    # when it is rendered
    message = render(cart_in(language), step)
    # then nothing code-like is left behind: no box, no labels, no "valid until", no offer subject
    for part in (message.html, message.text, message.subject):
        assert not ANY_DISCOUNT_WORD.search(part)
        assert VALID_UNTIL[language] not in part
        assert PERSONAL_CODE[language].lower() not in part.lower()
        assert not re.search(FREE_SHIPPING[language], part, re.IGNORECASE)
    assert "dashed" not in message.html and "monospace" not in message.html


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("step", [2, 3])
def test_the_code_sits_in_its_own_box_and_the_only_link_is_still_the_button(language, step):
    # given a step with a code
    # when it is rendered
    html = render(cart_in(language), step, offer()).html
    # then the code has its own bordered, monospaced cell and the recovery link appears once
    assert re.search(r'<td [^>]*style="[^"]*dashed[^"]*monospace[^"]*">' + CODE + "</td>", html)
    assert html.count('href="https://bridge.example.com/r/abc?t=1&amp;s=2"') == 1
    assert "<style" not in html


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_without_a_recovery_link_the_code_is_not_promised_to_apply_itself(language):
    # given a cart with no checkout link at all
    cart = replace(cart_in(language), recovery_url=None)
    # when step 2 is rendered with a code
    message = render(cart, 2, offer(), recovery_url=None)
    # then the code is shown but the customer is not told a button will apply it
    for part in (message.html, message.text):
        assert CODE in part
        assert AUTOMATIC[language] not in part


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_first_reminder_never_shows_a_code_even_when_given_one(language):
    # given a code handed to step 1 by mistake
    # when step 1 is rendered
    message = render(cart_in(language), 1, offer())
    # then no part of it mentions the code or its expiry
    for part in (message.subject, message.html, message.text):
        assert CODE not in part
        assert VALID_UNTIL[language] not in part
        assert not ANY_DISCOUNT_WORD.search(part)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("kind", [DiscountKind.PERCENTAGE, DiscountKind.FREE_SHIPPING])
def test_the_expiring_reminder_names_the_code_expiry_items_and_links(language, kind):
    # given a customer whose code is about to expire
    cart = cart_in(language)
    # when the "your code expires soon" reminder is rendered
    message = render(cart, EXPIRING, offer(kind))
    # then it is in the language and carries the code, expiry, items, the way back and the unsubscribe link
    expiry = format_datetime_local(EXPIRES, language, "UTC")
    assert message.language == language
    assert '<html lang="%s">' % language in message.html
    for part in (unescaped(message.html), message.text):
        assert CODE in part and expiry in part
        assert RECOVERY in part and UNSUBSCRIBE in part
        assert "Linen shirt" in part and "Canvas tote bag" in part
        assert "Acme & Sons" in part
    assert message.html.count('href="https://bridge.example.com/r/abc?t=1&amp;s=2"') == 1
    if kind == DiscountKind.PERCENTAGE:
        assert format_percent(Decimal("10"), language) in message.subject
    else:
        assert re.search(FREE_SHIPPING[language], message.subject, re.IGNORECASE)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_expiring_template_without_a_code_degrades_to_a_plain_reminder(language):
    # given the expiring template rendered without a code (the code was used or dropped meanwhile)
    # when it is rendered
    message = render(cart_in(language), EXPIRING)
    # then it is still a sensible cart reminder with no empty code box or expiry text
    assert "Linen shirt" in message.text and RECOVERY in message.text
    for part in (message.html, message.text, message.subject):
        assert not ANY_DISCOUNT_WORD.search(part)
        assert VALID_UNTIL[language] not in part
    assert "dashed" not in message.html


@pytest.mark.parametrize("step", [2, EXPIRING])
def test_html_escapes_a_malicious_shop_name_while_subject_and_text_keep_it_literal(step):
    # given a shop name carrying a script tag and a code
    name = "<script>alert(1)</script> Shop"
    # when the reminder is rendered
    message = render(cart_in("en"), step, offer(), shop_name=name)
    # then the HTML shows it as text and the plain parts keep it as typed
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Shop" in message.html
    assert name in message.text
    if step == 2:
        assert name in message.subject


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("step", [1, 2, 3, EXPIRY_STEP_OFFSET])
def test_every_shipped_template_passes_the_template_check(language, step):
    # given a shipped default, including "your code expires soon" (position 100)
    source = default_template(step, language)
    # when it is checked the way a merchant's override is checked before saving
    # then there are no problems
    assert check_template(source, language) == []


def test_every_expiry_position_shares_the_expiring_template():
    # given the expiry reminders of steps 1, 2 and 3 (positions 101-103)
    # when their templates are loaded
    # then they are the same, and differ from the regular steps
    assert default_template(101, "kk") == default_template(103, "kk") == default_template(EXPIRY_STEP_OFFSET, "kk")
    assert default_template(EXPIRY_STEP_OFFSET, "kk") != default_template(3, "kk")
