"""Sending manners and consent: pure rules, checked for every step at send time.

- consent policy per shop: ``everyone``; ``first_only`` (default: shoppers who did not
  accept marketing get only the first reminder); ``required`` (only shoppers who did);
- quiet hours in the customer's time zone (default 21:00-08:00): postponed to the end;
- frequency cap: one message per contact per shop within a window (default 16 h):
  postponed to the end of the window, never dropped;
- re-entry cooldown: a contact enters a new sequence at most once per N days (default 7).

The customer's zone is the one the platform gave, else their country's when the whole
country keeps one UTC offset, else the shop's (when the country has several zones, the
shop's own zone is the better guess than any one of them).
"""
from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global


class ConsentPolicy(str, enum.Enum):
    EVERYONE = "everyone"
    FIRST_ONLY = "first_only"
    REQUIRED = "required"


DEFAULT_POLICY = ConsentPolicy.FIRST_ONLY


def consent_blocks(policy: ConsentPolicy, accepts_marketing: bool | None, first_reminder: bool) -> str | None:
    """Why consent forbids this reminder, or None. Unknown consent counts as not given."""
    if policy is ConsentPolicy.EVERYONE or accepts_marketing is True:
        return None
    if policy is ConsentPolicy.FIRST_ONLY:
        return None if first_reminder else "no marketing consent: first reminder only"
    return "no marketing consent (the shop requires it)"


def zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def customer_zone(explicit: str | None, country: str | None, shop_zone: str | None, now: datetime) -> ZoneInfo:
    """The zone to read "quiet hours" in for this customer (see the module docstring)."""
    found = zone(explicit)
    if found is not None:
        return found
    shop = zone(shop_zone) or ZoneInfo("UTC")
    names = get_global("territory_zones").get((country or "").upper(), [])
    zones = [z for z in (zone(n) for n in names) if z is not None]
    if zones and len({now.astimezone(z).utcoffset() for z in zones}) == 1:
        return zones[0]
    return shop


def quiet_until(now: datetime, tz: ZoneInfo, start_hour: int, end_hour: int) -> datetime | None:
    """The end of the quiet period ``now`` falls in (aware UTC), or None when it is not quiet.

    ``start == end`` means no quiet hours; ``21 -> 8`` wraps past midnight.
    """
    if start_hour == end_hour:
        return None
    local = now.astimezone(tz)
    hour = local.hour
    quiet = start_hour <= hour < end_hour if start_hour < end_hour else (hour >= start_hour or hour < end_hour)
    if not quiet:
        return None
    end_day = local.date() if hour < end_hour else local.date() + timedelta(days=1)
    # Built as a wall-clock time in the zone: a DST change on the night moves it correctly.
    end_local = datetime(end_day.year, end_day.month, end_day.day, end_hour, tzinfo=tz)
    return end_local.astimezone(timezone.utc)


def cap_until(last_message_at: datetime | None, cap_hours: int, now: datetime) -> datetime | None:
    """When the frequency window since the contact's last message ends, or None when it has."""
    if cap_hours <= 0 or last_message_at is None:
        return None
    ends = last_message_at + timedelta(hours=cap_hours)
    return ends if ends > now else None


def in_cooldown(started_at: datetime | None, cooldown_days: int, now: datetime) -> bool:
    """True while the contact's previous sequence began less than ``cooldown_days`` ago."""
    return cooldown_days > 0 and started_at is not None and now - started_at < timedelta(days=cooldown_days)


def validate_manners(values: dict) -> list[tuple[str, str]]:
    """Field errors for the shop's manner settings (config import, admin forms)."""
    errors: list[tuple[str, str]] = []
    policy = values.get("consent_policy")
    if policy is not None and policy not in {p.value for p in ConsentPolicy}:
        errors.append(("consent_policy", "must be one of: everyone, first_only, required"))
    for name, low, high in (("frequency_cap_hours", 0, 24 * 14), ("quiet_hours_start", 0, 23),
                            ("quiet_hours_end", 0, 23), ("reentry_cooldown_days", 0, 365)):
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            errors.append((name, f"must be a whole number from {low} to {high}"))
    check = values.get("open_order_check")
    if check is not None and not isinstance(check, bool):
        errors.append(("open_order_check", "must be true or false"))
    return errors
