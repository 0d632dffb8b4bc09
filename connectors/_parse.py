"""Shared, pure parsing helpers for connector payloads and headers.

Platform payloads are untrusted JSON: any field may be missing, null, the wrong type or
garbled. Every helper here either returns a clean value (``None`` for "absent") or raises
``UnprocessableDelivery`` naming the field, so a bad payload never escapes a normalizer
as a ``KeyError``/``TypeError`` and always lands in the dead-letter inbox with a reason.
"""
from __future__ import annotations

import functools
import hashlib
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from bridge.model import UnprocessableDelivery

_TRUE = frozenset({"1", "yes", "true", "on", "subscribed"})
_FALSE = frozenset({"0", "no", "false", "off", "unsubscribed"})


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lowercased: HTTP names are case-insensitive (RFC 9110 §5.1).

    Works for a plain dict (tests) and werkzeug's ``Headers`` (Flask) alike.
    """
    return {str(name).lower(): value for name, value in headers.items()}


def raw_digest_key(raw: bytes) -> str:
    """Fallback delivery identity: identical bodies collapse into one delivery."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def text(value: Any) -> str | None:
    """A stripped string, or None for null/empty/non-text (numbers kept as digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def email(value: Any) -> str | None:
    """Emails compare case-insensitively in practice; store them lowercased."""
    found = text(value)
    return found.lower() if found else None


def ident(value: Any) -> str | None:
    """A platform id as a string; 0 means "none" (WooCommerce guest ``customer_id``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value > 0 else None
    found = text(value)
    return None if found in (None, "0") else found


def first(*values: str | None) -> str | None:
    """The first value that is present (helpers already turned "" into None)."""
    return next((value for value in values if value), None)


def mapping(value: Any, field: str) -> dict:
    """A nested JSON object; null/absent is an empty one, anything else is garbage."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UnprocessableDelivery(f"{field} is not an object")
    return value


def sequence(value: Any, field: str) -> list:
    """A JSON array; null/absent is an empty one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnprocessableDelivery(f"{field} is not a list")
    return value


def decimal(value: Any, field: str) -> Decimal:
    """Money as Decimal. Floats go through ``str`` so 19.9 stays 19.9, not 19.899999..."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UnprocessableDelivery(f"{field} is missing or not a number")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise UnprocessableDelivery(f"{field} is not a number: {value!r}") from None
    if not amount.is_finite():
        raise UnprocessableDelivery(f"{field} is not a finite number")
    return amount


def quantity(value: Any, field: str) -> int:
    """A whole, non-negative item count (a numeric string is accepted)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnprocessableDelivery(f"{field} is not a whole quantity: {value!r}")
    return value


def boolean(value: Any) -> bool | None:
    """True/False from JSON booleans or the usual WordPress strings; None if unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    found = text(value)
    if found is None:
        return None
    lowered = found.lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def moment(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601, or None when absent or garbled.

    A value without an offset is taken as UTC: WooCommerce's ``*_gmt`` fields carry
    no offset but are GMT (https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties).
    """
    found = text(value)
    if found is None:
        return None
    try:
        parsed = datetime.fromisoformat(found)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def required_moment(value: Any, field: str) -> datetime:
    """Like ``moment`` but the field is needed: absent or garbled is unprocessable."""
    parsed = moment(value)
    if parsed is None:
        raise UnprocessableDelivery(f"{field} is missing or not an ISO 8601 datetime")
    return parsed


def country(value: Any) -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased ("ua" -> "UA"); None for anything else.

    Platforms send "" for an unknown country and some plugins the country's name: neither
    is a code, and a wrong country is worse than none (it picks the buyer's quiet hours).
    """
    found = text(value)
    code = found.upper() if found else ""
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


@functools.cache
def _known_zones() -> frozenset[str]:
    # Read from the tz database once per process; every later lookup is pure.
    return frozenset(zoneinfo.available_timezones())


def iana_zone(value: Any) -> str | None:
    """An IANA time zone name the tz database knows ("Europe/Kyiv"), else None.

    Membership in the known names rather than ``ZoneInfo(value)``, which would open a
    file named by untrusted input; a name the database lacks is no zone, not an error.
    """
    found = text(value)
    return found if found is not None and found in _known_zones() else None


def required_text(value: Any, field: str) -> str:
    found = text(value)
    if found is None:
        raise UnprocessableDelivery(f"{field} is missing")
    return found


def url_of(value: Any) -> str | None:
    """An image/product URL given either as a string or as an object with ``src``."""
    if isinstance(value, dict):
        return text(value.get("src"))
    return text(value)


def require_object(payload: Any, topic: str) -> dict:
    """Every handled topic's body is a JSON object; anything else is unprocessable."""
    if not isinstance(payload, dict):
        raise UnprocessableDelivery(f"{topic} payload is not a JSON object")
    return payload
