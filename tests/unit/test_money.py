"""Money and date formatting follow the customer's locale (bridge.money)."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from bridge.money import format_datetime_local, format_money, parse_locale

NBSP = "\xa0"  # CLDR keeps amounts on one line with no-break spaces


@pytest.mark.parametrize(
    ("locale", "currency", "expected"),
    [
        ("en", "USD", "$1,234.50"),
        ("ru", "RUB", f"1{NBSP}234,50{NBSP}₽"),
        ("uk", "UAH", f"1{NBSP}234,50{NBSP}₴"),
        ("bg", "BGN", f"1{NBSP}234,50{NBSP}лв."),
        ("bg", "EUR", f"1{NBSP}234,50{NBSP}€"),
        ("kk", "KZT", f"1{NBSP}234,50{NBSP}₸"),
    ],
)
def test_money_is_written_the_way_the_customers_locale_writes_it(locale, currency, expected):
    # given an amount with one decimal digit
    amount = Decimal("1234.5")
    # when it is formatted
    formatted = format_money(amount, currency, locale)
    # then separators, decimals and symbol follow the locale
    assert formatted == expected


def test_regional_locale_tags_in_either_spelling_are_understood():
    # given the tags platforms send ("uk-UA" from Shopify, "ru_RU" from WordPress)
    # when they are formatted with
    ukrainian = format_money(Decimal("10"), "UAH", "uk-UA")
    russian = format_money(Decimal("10"), "RUB", "ru_RU")
    # then the region-specific locale is used
    assert ukrainian == f"10,00{NBSP}₴"
    assert russian == f"10,00{NBSP}₽"
    assert str(parse_locale("uk-UA")) == "uk_UA"


@pytest.mark.parametrize("tag", ["xx-YY", "", None, "not a locale!"])
def test_an_unknown_locale_falls_back_to_english_instead_of_failing(tag):
    # given a locale tag Babel does not know
    # when money is formatted with it
    formatted = format_money(Decimal("5"), "USD", tag)
    # then English formatting is used
    assert formatted == "$5.00"


def test_an_unknown_region_keeps_its_language():
    # given a known language with a region CLDR lacks
    # when the locale is parsed
    locale = parse_locale("ru-ZZ")
    # then the language survives
    assert locale.language == "ru"


def test_the_currency_code_is_not_case_sensitive():
    # given a lower-case currency code from a sloppy payload
    # when formatted
    formatted = format_money(Decimal("1234.5"), "usd", "en")
    # then it is treated as USD
    assert formatted == "$1,234.50"


def test_float_amounts_are_refused_because_money_is_decimal():
    # given a float amount
    # when formatting it
    # then a TypeError says why
    with pytest.raises(TypeError, match="Decimal"):
        format_money(12.5, "USD", "en")  # type: ignore[arg-type]


def test_locale_parsing_is_cached():
    # given a locale parsed once
    parse_locale("bg-BG")
    before = parse_locale.cache_info()
    # when it is needed again
    again = parse_locale("bg-BG")
    # then the cache answers with the same object
    after = parse_locale.cache_info()
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)
    assert again is parse_locale("bg-BG")


def test_repeated_amounts_give_the_same_text_from_the_cache():
    # given an amount formatted once
    first = format_money(Decimal("19.90"), "EUR", "bg")
    # when the equal amount comes again, written differently
    second = format_money(Decimal("19.9"), "EUR", "bg")
    # then the text is identical
    assert first == second == f"19,90{NBSP}€"


def test_a_moment_is_shown_in_the_shops_time_zone_and_the_customers_language():
    # given 12:30 UTC on a winter day (Sofia is UTC+2 then)
    moment = datetime(2025, 1, 15, 12, 30, tzinfo=timezone.utc)
    # when formatted for Sofia in English and in Bulgarian
    english = format_datetime_local(moment, "en", "Europe/Sofia")
    bulgarian = format_datetime_local(moment, "bg", "Europe/Sofia")
    # then the local time shows, without seconds, in each language's pattern
    assert english.startswith("Jan 15, 2025, 2:30") and english.endswith("PM")
    assert bulgarian.startswith("15.01.2025") and bulgarian.endswith("14:30")


def test_naive_datetimes_are_refused():
    # given a datetime without a time zone
    naive = datetime(2025, 1, 15, 12, 30)
    # when it is formatted
    # then the call fails instead of guessing the zone
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime_local(naive, "en", "UTC")


def test_an_unknown_time_zone_is_a_clear_error():
    # given an aware moment
    moment = datetime(2025, 1, 15, 12, 30, tzinfo=timezone.utc)
    # when formatted for a zone that does not exist
    # then the error names the zone
    with pytest.raises(ValueError, match="Mars/Olympus"):
        format_datetime_local(moment, "en", "Mars/Olympus")
