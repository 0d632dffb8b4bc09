"""Reminder templates: language choice, defaults, escaping and the sandbox (bridge.templating)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from bridge.model import CartSnapshot, Contact, LineItem
from bridge.templating import (
    SUPPORTED_LANGUAGES, TemplateRenderError, TemplateSource, check_template,
    choose_language, default_template, render_reminder,
)
from bridge.templating_sandbox import compile_template

RECOVERY = "https://shop.example.com/checkouts/c1/recover?key=k1&utm=x"
CURRENCY = {"en": "USD", "ru": "RUB", "uk": "UAH", "bg": "EUR", "kk": "KZT"}


def make_cart(*, locale="en", first_name="Olena", title="Linen shirt", currency="USD", image=True):
    items = (
        LineItem(title, 1, Decimal("1234.50"), variant_title="M / Blue",
                 image_url="https://cdn.example.com/shirt.jpg" if image else None),
        LineItem("Canvas tote", 2, Decimal("15.00")),
    )
    return CartSnapshot(
        external_id="c1", contact=Contact(email="olena@example.com", first_name=first_name),
        currency=currency, line_items=items, subtotal=Decimal("1264.50"), total=Decimal("1264.50"),
        updated_at=datetime(2025, 1, 15, 12, 0, tzinfo=timezone.utc), locale=locale,
    )


def render(cart, step=1, **kwargs):
    kwargs.setdefault("recovery_url", RECOVERY)
    return render_reminder(cart, step=step, shop_name="Acme & Sons", shop_language=None, **kwargs)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_every_default_renders_and_names_the_first_product_in_the_subject(language, step):
    # given a realistic cart from a customer speaking the language
    cart = make_cart(locale=language, currency=CURRENCY[language])
    # when the reminder for the step is rendered
    message = render(cart, step, unsubscribe_url="https://bridge.example.com/u/abc")
    # then it is in that language, names the product and carries items, total and links
    assert message.language == language
    assert "Linen shirt" in message.subject
    for part in (message.html, message.text):
        assert "Olena" in part and "Canvas tote" in part and "Acme & Sons" in part.replace("&amp;", "&")
        assert "https://bridge.example.com/u/abc" in part
    assert "1\xa0234,50" in message.text or "1,234.50" in message.text
    assert '<html lang="%s">' % language in message.html


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("step", [1, 2, 3])
def test_default_html_is_email_safe_with_one_call_to_action(language, step):
    # given a default template
    # when it is rendered
    html = render(make_cart(locale=language), step).html
    # then it is an inline-styled table layout with one link back to the checkout
    assert "<style" not in html and "<table" in html and "max-width:600px" in html
    assert html.count('href="https://shop.example.com/checkouts/c1/recover?key=k1&amp;utm=x"') == 1
    assert re.search(r'<img [^>]*alt="Linen shirt"', html)
    assert not re.search(r"discount|скидк|знижк|отстъпк|жеңілдік", html + render(
        make_cart(locale=language), step).text, re.IGNORECASE)


@pytest.mark.parametrize(
    ("customer_locale", "shop_language", "expected"),
    [("uk-UA", "ru", "uk"), ("ru_RU", None, "ru"), ("KK", "en", "kk"), ("pt-BR", "bg", "bg"),
     ("pt-BR", "de-DE", "en"), (None, None, "en"), ("", "kk-KZ", "kk"), ("ua", None, "uk")],
)
def test_the_customers_language_wins_then_the_shops_then_english(customer_locale, shop_language, expected):
    # given a customer locale and a shop language
    # when the message language is chosen
    language = choose_language(customer_locale, shop_language)
    # then the first supported one wins
    assert language == expected


def test_totals_use_the_customers_locale_and_the_carts_currency():
    # given a Russian customer with a rouble cart
    cart = make_cart(locale="ru-RU", currency="RUB")
    # when the reminder is rendered
    message = render(cart)
    # then amounts are formatted the Russian way
    assert "1\xa0264,50\xa0₽" in message.text
    assert "1\xa0264,50\xa0₽" in message.html


def test_html_escapes_a_malicious_title_while_subject_and_text_keep_it_literal():
    # given a product title that is an HTML injection attempt
    cart = make_cart(title='<script>alert("x")</script>')
    # when the reminder is rendered
    message = render(cart)
    # then only the HTML part escapes it
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in message.html
    assert '<script>alert("x")</script>' in message.subject
    assert '<script>alert("x")</script>' in message.text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("first_name", [None, "", "   "])
def test_a_missing_first_name_gives_a_graceful_greeting(language, first_name):
    # given a customer without a usable first name
    cart = make_cart(locale=language, first_name=first_name)
    # when the reminder is rendered
    message = render(cart)
    # then the greeting has no dangling punctuation
    first_line = message.text.splitlines()[0]
    assert re.fullmatch(r"\w[\w ]*[,!]", first_line), first_line
    assert not re.search(r"\s[,!]", message.text + message.html)


def test_an_english_greeting_uses_the_first_name_when_known():
    # given a named and an anonymous customer
    # when both are reminded
    named = render(make_cart(first_name="Olena")).text
    anonymous = render(make_cart(first_name=None)).text
    # then the greeting adapts
    assert named.startswith("Hi Olena,\n")
    assert anonymous.startswith("Hello,\n")


def test_without_a_recovery_url_the_platforms_checkout_link_is_used():
    # given a cart carrying its own checkout link and no tracked link from the caller
    cart = CartSnapshot(**{**make_cart().__dict__, "recovery_url": "https://shop.example.com/cart/xyz"})
    # when the reminder is rendered
    message = render(cart, recovery_url=None)
    # then the button goes to that checkout
    assert 'href="https://shop.example.com/cart/xyz"' in message.html


def test_the_unsubscribe_link_appears_only_when_given():
    # given no unsubscribe URL
    # when the reminder is rendered
    message = render(make_cart())
    # then no empty link is left behind
    assert 'href=""' not in message.html
    assert "Unsubscribe" not in message.text


def test_an_override_template_is_used_with_every_variable():
    # given a merchant's own template
    override = TemplateSource(
        subject="{{ shop.name }}: {{ cart.item_count }} items, {{ cart.total }}",
        html="<p>{{ customer.first_name }} {{ cart.items[0].price }} {{ step }} {{ language }}</p>",
        text="{% for item in cart.items %}{{ item.title }}/{{ item.line_total }};{% endfor %}{{ nope.x }}",
    )
    # when step 2 is rendered with it
    message = render(make_cart(), 2, override=override)
    # then its text comes out, with undefined variables rendered empty
    assert message.subject == "Acme & Sons: 3 items, $1,264.50"
    assert message.html.strip() == "<p>Olena $1,234.50 2 en</p>"
    assert message.text.strip() == "Linen shirt/$1,234.50;Canvas tote/$30.00;"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("step", [1, 2, 3])
def test_the_default_templates_have_no_problems(language, step):
    # given a shipped default
    # when it is checked
    problems = check_template(default_template(step, language))
    # then nothing is reported
    assert problems == []


def test_a_syntax_error_in_an_override_is_reported_with_field_and_line():
    # given an override whose HTML has a broken tag on line 3
    override = TemplateSource(subject="Hi", html="<p>\nok\n{% if %}\n</p>", text="fine")
    # when it is checked and when it is rendered
    problems = check_template(override)
    # then the field and line are named, and rendering raises our own error
    assert [(p.field, p.line) for p in problems] == [("html", 3)]
    with pytest.raises(TemplateRenderError) as caught:
        render(make_cart(), override=override)
    assert (caught.value.field, caught.value.line) == ("html", 3)


def test_an_unknown_filter_is_found_when_checking_not_when_sending():
    # given a subject with a misspelt filter (Liquid only notices at render time)
    override = TemplateSource(subject="{{ cart.total | upcasee }}", html="", text="")
    # when it is checked
    problems = check_template(override)
    # then it is reported against the subject
    assert len(problems) == 1 and problems[0].field == "subject" and "upcasee" in problems[0].message


@pytest.mark.parametrize(
    "text",
    ["{% for i in (1..100000000) %}x{% endfor %}",
     "{% for a in (1..5000) %}{% for b in (1..5000) %}{% endfor %}{% endfor %}",
     "{% for i in (1..9000) %}" + "x" * 100 + "{% endfor %}",
     "{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}"],
)
def test_runaway_templates_stop_with_a_template_render_error(text):
    # given an override that would loop or grow without bound
    override = TemplateSource(subject="s", html="h", text="\n" + text)
    # when it is rendered
    # then our error names the field and line instead of hanging or eating memory
    with pytest.raises(TemplateRenderError) as caught:
        render(make_cart(), override=override)
    assert (caught.value.field, caught.value.line) == ("text", 2)
    assert "limit" in caught.value.message


@pytest.mark.parametrize("tag", ["include", "render"])
def test_including_a_file_fails_cleanly(tmp_path, tag):
    # given a real file on disk and an override that tries to pull it in
    secret = tmp_path / "secret.liquid"
    secret.write_text("TOP SECRET", encoding="utf-8")
    override = TemplateSource(subject="s", html=f"{{% {tag} '{secret}' %}}", text="t")
    # when it is checked and rendered
    problems = check_template(override)
    # then it is refused as a template problem and the file is never read
    assert [(p.field, p.line) for p in problems] == [("html", 1)]
    with pytest.raises(TemplateRenderError, match=tag):
        render(make_cart(), override=override)


def test_rendering_the_same_default_twice_parses_it_once():
    # given an empty template cache
    compile_template.cache_clear()
    cart = make_cart(locale="kk", currency="KZT")
    # when the same reminder is rendered twice
    render(cart, 2)
    first = compile_template.cache_info()
    render(cart, 2)
    second = compile_template.cache_info()
    # then the three fields were parsed once and reused
    assert (first.misses, first.hits) == (3, 0)
    assert (second.misses, second.hits) == (3, 3)


def test_steps_past_the_third_reuse_the_last_template_and_step_zero_is_refused():
    # given the shipped defaults
    # when step 5 and step 0 are asked for
    # then step 5 is the last template and step 0 is an error
    assert default_template(5, "bg") == default_template(3, "bg")
    with pytest.raises(ValueError):
        default_template(0, "en")


def test_image_urls_that_are_not_http_are_dropped():
    # given a line item whose image URL is a script
    cart = CartSnapshot(**{**make_cart().__dict__, "line_items": (
        LineItem("Mug", 1, Decimal("9"), image_url="javascript:alert(1)"),)})
    # when rendered
    html = render(cart).html
    # then no image or script URL appears
    assert "javascript:" not in html and "<img" not in html


def test_the_subject_is_one_line_even_when_a_title_smuggles_in_a_header():
    # given a product title with a line break and a fake header
    cart = make_cart(title="Mug\r\nBcc: victim@example.com")
    # when the reminder is rendered
    subject = render(cart).subject
    # then the subject cannot break into a second header line
    assert "\n" not in subject and "\r" not in subject
    assert subject == "Still thinking about Mug Bcc: victim@example.com?"


def test_the_last_reminder_asks_why_the_customer_left():
    # given an English customer at the last step
    # when the reminder is rendered
    text = render(make_cart(), 3).text
    # then it lists the reasons and how to answer
    for reason in ("Shipping costs too much", "payment method", "just browsing", "better price", "checkout"):
        assert reason in text
    assert "reply to this email with the number" in text


def test_a_block_left_open_is_reported_at_the_line_that_opened_it():
    # given an HTML part whose {% if %} on line 3 is never closed (Liquid itself gives no line)
    html = "<p>Hi</p>\n<p>{{ customer.first_name }}</p>\n{% if cart.item_count > 1 %}\n<p>many</p>\n"
    source = TemplateSource(subject="Hello", html=html, text="Hello")
    # when it is checked
    problems = check_template(source)
    # then the problem points at line 3 of the HTML
    assert [(p.field, p.line) for p in problems] == [("html", 3)]
    assert "endif" in problems[0].message


def test_an_expression_cut_short_is_reported_at_its_own_line():
    source = TemplateSource(subject="Hello", html="Hello", text="one\ntwo\n{{ cart.total | }}\nfour")
    problems = check_template(source)
    assert [(p.field, p.line) for p in problems] == [("text", 3)]
