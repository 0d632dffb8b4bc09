"""Locale-aware formatting of money and moments for customer-facing messages.

Pure functions over Babel's CLDR data: a reminder shows "1 234,50 ₽" to a Russian
customer and "$1,234.50" to an American one. Parsing a Babel ``Locale`` is slow
(it loads CLDR data) and a worker formats thousands of amounts a minute, so parsed
locales and time zones are cached.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency
from babel.numbers import format_percent as _babel_percent

FALLBACK_LOCALE = "en"


@lru_cache(maxsize=128)
def parse_locale(tag: str | None) -> Locale:
    """Return the Babel locale for a BCP 47-ish tag ("uk-UA", "ru_RU", "kk").

    Platforms send whatever the storefront had ("pt-BR", "zh-Hant-TW", "", junk):
    an unknown region falls back to its language, an unknown language to English,
    because a reminder with slightly foreign number formatting beats no reminder.
    """
    cleaned = (tag or "").strip().replace("-", "_")
    candidates = (cleaned, cleaned.split("_", 1)[0], FALLBACK_LOCALE)
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return Locale.parse(FALLBACK_LOCALE)


@lru_cache(maxsize=64)
def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {tz_name!r}") from err


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """Format ``amount`` of ``currency`` (ISO 4217) the way ``locale`` writes money.

    The currency's own number of decimals applies (JPY 0, KZT 2); the separators
    and symbol placement come from the locale. The result may contain non-breaking
    spaces (CLDR uses U+00A0 so an amount never wraps across lines).
    """
    if not isinstance(amount, Decimal):
        # Floats would print binary noise (0.1 + 0.2); money is Decimal everywhere.
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    return _format_money(amount, currency.strip().upper(), locale)


@lru_cache(maxsize=4096)
def _format_money(amount: Decimal, currency: str, locale: str) -> str:
    # Babel spends ~80 µs applying a number pattern, a third of a whole reminder
    # render; the same prices recur across carts, so a small cache pays for itself.
    # Behind the type check above: 12.5 == Decimal("12.5") would share an entry.
    return format_currency(amount, currency, locale=parse_locale(locale))


def format_datetime_local(dt: datetime, locale: str, tz_name: str) -> str:
    """Format an aware ``dt`` as a medium date and short time in ``tz_name``.

    "Mar 1, 2025, 5:30 PM" (en), "1 мар. 2025 г., 17:30" (ru). Seconds are left
    out on purpose: nobody needs them in an email. Naive datetimes are refused
    because guessing their zone would shift the time shown by hours.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("format_datetime_local needs a timezone-aware datetime")
    babel_locale = parse_locale(locale)
    local = dt.astimezone(_zone(tz_name))
    glue = get_datetime_format("medium", locale=babel_locale).replace("'", "")
    time_part = format_time(local, "short", tzinfo=None, locale=babel_locale)
    date_part = format_date(local, "medium", locale=babel_locale)
    return glue.replace("{0}", time_part).replace("{1}", date_part)


def format_percent(percent: Decimal, locale: str) -> str:
    """``percent`` (10 means 10%) as ``locale`` writes it: "10%" (en), "10 %" (ru, with U+00A0).

    Fractions are kept (12.5%): a merchant's "12.5% off" must not read as 12% or 13%.
    """
    if not isinstance(percent, Decimal):
        raise TypeError(f"percent must be a Decimal, not {type(percent).__name__}")
    return _babel_percent(percent / 100, locale=parse_locale(locale), decimal_quantization=False)
