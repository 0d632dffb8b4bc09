"""Discount codes for reminders: per-step settings, the code itself, who qualifies. Pure.

A step may offer a unique, single-use, expiring code (never the first step by
default: the field's practice). The code is *deterministic*: an HMAC of the shop,
cart and step under the instance secret. So the intent can be recorded before the
platform is called, a retry creates the same code (the platform refuses a second
one with that code, it never creates two), and the code cannot be guessed from
another customer's (coupon sites cannot enumerate them).
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

# 32 symbols without the look-alikes 0/O and 1/I: a code is read off a phone screen
# and typed into a checkout field.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_RANDOM_LENGTH = 10          # 50 bits: not guessable, still easy to type
PREFIX_PATTERN = re.compile(r"^[A-Z0-9-]{0,12}$")
MAX_VALID_HOURS = 24 * 60        # 60 days
EXPIRY_STEP_OFFSET = 100         # "your code expires soon" for step N is reminder position 100 + N
EXPIRY_TEMPLATE_STEP = 100       # ... and its template is stored (and exported) as step 100


class DiscountKind(str, enum.Enum):
    NONE = "none"
    PERCENTAGE = "percentage"            # value: percent off the order, 1-100
    FIXED_AMOUNT = "fixed_amount"        # value: amount off the order, in the cart's currency
    FREE_SHIPPING = "free_shipping"      # value unused


@dataclass(frozen=True)
class DiscountSetting:
    """What a sequence step offers. ``kind=NONE`` means a plain reminder."""
    kind: DiscountKind = DiscountKind.NONE
    value: Decimal = Decimal("0")
    valid_hours: int = 72
    minimum_subtotal: Decimal | None = None   # in the cart's currency; below it: no code
    new_customers_only: bool = False          # skip the code for a customer with an earlier order
    code_prefix: str = "CB-"

    @property
    def active(self) -> bool:
        return self.kind != DiscountKind.NONE


NO_DISCOUNT = DiscountSetting()
DEFAULT_STEP_DISCOUNT = DiscountSetting(DiscountKind.PERCENTAGE, Decimal("10"), 72)


@dataclass(frozen=True)
class DiscountSpec:
    """One code to create on the platform; built by the core, sent by a connector client."""
    code: str
    kind: DiscountKind
    value: Decimal
    currency: str
    starts_at: datetime
    ends_at: datetime
    title: str                                 # shown to the merchant in the platform's admin
    reference: str                             # our marker: "cartbridge cart 12 step 2"
    minimum_subtotal: Decimal | None = None
    customer_email: str | None = None          # restrict to this customer where the platform allows
    customer_id: str | None = None             # the platform's customer id


def discount_code(secret: bytes, shop_id: int, cart_id: int, step: int, prefix: str) -> str:
    """The code for (shop, cart, step): the same on every attempt, unguessable without ``secret``."""
    digest = hmac.new(secret, f"discount:{shop_id}:{cart_id}:{step}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(CODE_RANDOM_LENGTH):
        number, index = divmod(number, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[index])
    return prefix + "".join(chars)


def validate_discount(setting: DiscountSetting, where: str) -> list[tuple[str, str]]:
    """Every problem with a step's discount setting, as (field, reason)."""
    if not setting.active:
        return []
    errors = []
    if setting.kind == DiscountKind.PERCENTAGE and not Decimal("0") < setting.value <= Decimal("100"):
        errors.append((f"{where}.value", "a percentage must be more than 0 and at most 100"))
    if setting.kind == DiscountKind.FIXED_AMOUNT and not setting.value > 0:
        errors.append((f"{where}.value", "a fixed amount must be more than 0"))
    if not 1 <= setting.valid_hours <= MAX_VALID_HOURS:
        errors.append((f"{where}.valid_hours", f"must be between 1 and {MAX_VALID_HOURS} hours"))
    if setting.minimum_subtotal is not None and setting.minimum_subtotal < 0:
        errors.append((f"{where}.minimum_subtotal", "must not be negative"))
    if not PREFIX_PATTERN.match(setting.code_prefix):
        errors.append((f"{where}.code_prefix", "use at most 12 of A-Z, 0-9 and '-'"))
    return errors


def why_no_code(setting: DiscountSetting, subtotal: Decimal, has_previous_order: bool) -> str | None:
    """Why this cart gets the step without a code, or None when it qualifies."""
    if not setting.active:
        return "no discount in this step"
    if setting.minimum_subtotal is not None and subtotal < setting.minimum_subtotal:
        return "cart below the discount minimum"
    if setting.new_customers_only and has_previous_order:
        return "discount is for new customers only"
    return None


def build_spec(setting: DiscountSetting, *, code: str, currency: str, now: datetime, cart_id: int, step: int,
               email: str | None, customer_id: str | None) -> DiscountSpec:
    return DiscountSpec(
        code=code, kind=setting.kind, value=setting.value, currency=currency, starts_at=now,
        ends_at=now + timedelta(hours=setting.valid_hours), title=f"Cart recovery {code}",
        reference=f"cartbridge cart {cart_id} step {step}", minimum_subtotal=setting.minimum_subtotal,
        customer_email=email, customer_id=customer_id)


def expiry_reminder_due(expires_at: datetime, hours_before: int | None, now: datetime) -> datetime | None:
    """When "your code expires soon" goes out, or None (switched off, or too late already)."""
    if not hours_before:
        return None
    due = expires_at - timedelta(hours=hours_before)
    return due if due > now else None


@dataclass(frozen=True)
class DiscountOffer:
    """A created code as a message shows it (``recovery_url`` already applies it, when it can)."""
    code: str
    kind: DiscountKind
    value: Decimal
    currency: str
    expires_at: datetime
