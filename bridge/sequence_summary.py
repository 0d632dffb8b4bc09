"""A shop's reminder sequence in one sentence, for the merchant (the admin's Sequence page).

"After 60 min idle: 1 h, then 24 h with 10% off, then 3 days after the customer left."
Pure: no Flask, no SQL.

Choices (written down here because the page and its tests rely on them):
- Times are when each step goes out, counted from the customer's last activity (README
  "How timing works"): the step's delay, or the idle threshold when the delay is shorter
  (no step is due before the cart counts as abandoned); "at once" when both are 0.
- Durations: under an hour in minutes ("45 min"); whole days from 72 h up ("3 days": a
  merchant thinks of a three-day reminder in days, but of "24 h" and "48 h" in hours);
  otherwise hours and minutes ("1 h", "1 h 30 min", "25 h").
- Offers: "10% off", "5 off" (a fixed amount applies in each cart's own currency, so the
  sentence carries no currency), "free shipping". Numbers follow ``locale``; the words
  are English, as the whole admin is for now.
- Disabled steps are left out; with no enabled step: "No reminders are sent."
"""
from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal

from bridge.discounts import DiscountKind, DiscountSetting
from bridge.money import format_percent, parse_locale
from bridge.rules import SequenceSettings, StepSetting

NO_REMINDERS = "No reminders are sent."
DAYS_FROM_MINUTES = 72 * 60


def humanize_minutes(minutes: int) -> str:
    """45 min, 1 h, 1 h 30 min, 24 h, 3 days (see the module docstring for the rules)."""
    if minutes < 60:
        return f"{minutes} min"
    if minutes >= DAYS_FROM_MINUTES and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)} days"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def describe_offer(discount: DiscountSetting, locale: str = "en") -> str | None:
    """What the step's code gives ("10% off"), or None for a plain reminder."""
    if not discount.active:
        return None
    if discount.kind == DiscountKind.PERCENTAGE:
        return f"{format_percent(discount.value, locale)} off"
    if discount.kind == DiscountKind.FIXED_AMOUNT:
        return f"{_number(discount.value, locale)} off"
    return "free shipping"


def summarize(sequence: SequenceSettings, locale: str = "en") -> str:
    steps = [s for s in sequence.steps if s.enabled]
    if not steps:
        return NO_REMINDERS
    idle = sequence.abandon_after_minutes
    opening = f"After {humanize_minutes(idle)} idle" if idle else "Right after the customer leaves"
    return f"{opening}: {', then '.join(_step(s, idle, locale) for s in steps)} after the customer left."


def _step(step: StepSetting, idle: int, locale: str) -> str:
    effective = max(step.delay_minutes, idle)
    when = humanize_minutes(effective) if effective else "at once"
    offer = describe_offer(step.discount, locale)
    return f"{when} with {offer}" if offer else when


def _number(value: Decimal, locale: str) -> str:
    # Keep what the merchant typed: 4.99 stays 4.99, 5 stays 5 (no forced decimals).
    return format_decimal(value, locale=parse_locale(locale), decimal_quantization=False)
