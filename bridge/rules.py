"""Abandonment and sequence rules: pure functions of a cart, the shop's sequence and ``now``.

Timing model (README "How timing works"): every step delay counts from the moment
the customer left the checkout (the cart's last activity). The idle threshold says
when a quiet cart counts as abandoned; no step is ever due before that, so a step
with delay 0 (or shorter than the threshold) goes out the moment the cart is
declared abandoned. Defaults: abandoned after 60 min idle; steps at 1 h, 24 h, 72 h.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.discounts import DEFAULT_STEP_DISCOUNT, NO_DISCOUNT, DiscountSetting, validate_discount
from bridge.model import CartState, OrderInfo

MAX_DELAY_MINUTES = 60 * 24 * 90


@dataclass(frozen=True)
class StepSetting:
    position: int              # 1-based
    delay_minutes: int         # after the customer left
    channel: str = "email"
    enabled: bool = True
    discount: DiscountSetting = NO_DISCOUNT


@dataclass(frozen=True)
class SequenceSettings:
    abandon_after_minutes: int
    steps: tuple[StepSetting, ...]


DEFAULT_SEQUENCE = SequenceSettings(
    abandon_after_minutes=60,
    steps=(StepSetting(1, 60), StepSetting(2, 24 * 60, discount=DEFAULT_STEP_DISCOUNT), StepSetting(3, 72 * 60)),
)


@dataclass(frozen=True)
class PlannedStep:
    position: int
    due_at: datetime
    channel: str


def abandon_at(last_activity: datetime, sequence: SequenceSettings) -> datetime:
    return last_activity + timedelta(minutes=sequence.abandon_after_minutes)


def plan_steps(last_activity: datetime, sequence: SequenceSettings) -> list[PlannedStep]:
    """When each enabled step is due for a cart whose customer left at ``last_activity``."""
    _require_aware(last_activity)
    earliest = abandon_at(last_activity, sequence)
    return [PlannedStep(s.position, max(earliest, last_activity + timedelta(minutes=s.delay_minutes)),
                        s.channel)
            for s in sequence.steps if s.enabled]


# A reminder may go out late when its webhook was (a lost webhook only delays it), but
# not days late: a cart first seen long after a step's time (a backfill on install, or
# reconciliation after an outage) skips that step instead of sending "you left
# something an hour ago" a week on. The later steps of the same cart still go.
LATE_STEP_GRACE = timedelta(hours=12)
LATE_STEP_REASON = "the cart reached cartbridge after this step's time (imported late)"


def imported_too_late(first_seen: datetime, due_at: datetime, grace: timedelta = LATE_STEP_GRACE) -> bool:
    """True when cartbridge first saw the cart more than ``grace`` after the step was due."""
    _require_aware(first_seen)
    return first_seen - due_at > grace


def is_stale(incoming_updated_at: datetime, stored_updated_at: datetime | None) -> bool:
    """An update no newer than what we hold never undoes newer state (webhooks reorder)."""
    return stored_updated_at is not None and incoming_updated_at <= stored_updated_at


# Which states a newer observation may reopen: a converted cart stays converted
# (a late checkouts/update must never restart reminders after a purchase).
REOPENABLE = frozenset({CartState.OPEN, CartState.ABANDONED, CartState.EXPIRED, CartState.REMOVED,
                        CartState.SUPPRESSED})
CONVERTIBLE = frozenset({CartState.OPEN, CartState.ABANDONED, CartState.EXPIRED,
                         CartState.SUPPRESSED})


def converted_state(any_step_sent: bool) -> CartState:
    """A purchase after at least one reminder counts as recovered."""
    return CartState.RECOVERED if any_step_sent else CartState.CONVERTED


def order_matches_by_contact(order: OrderInfo, email: str | None, customer_id: str | None,
                             last_activity: datetime, window: timedelta) -> bool:
    """Fallback match when the order carries no token (Shopify's may not).

    The cart must have been active before the order was placed and within the window:
    an order placed before this cart existed says nothing about it.
    """
    same_person = bool(order.email and email and order.email == email) or bool(
        order.customer_id and customer_id and order.customer_id == customer_id)
    return same_person and order.placed_at - window <= last_activity <= order.placed_at


def order_is_for_cart(order, *, external_id: str, cart_token: str | None, email: str | None,
                      customer_id: str | None, last_activity: datetime, window: timedelta) -> bool:
    """The one rule for "this order is that cart's purchase": the order names the checkout
    or the cart token, else the same person ordered after this cart's last activity."""
    if order.checkout_ref and order.checkout_ref == external_id:
        return True
    if cart_token and order.cart_token == cart_token:
        return True
    return order_matches_by_contact(order, email, customer_id, last_activity, window)


def validate_sequence(sequence: SequenceSettings) -> list[tuple[str, str]]:
    """Field errors as (field, reason); empty when the sequence is usable."""
    errors: list[tuple[str, str]] = []
    if not 0 <= sequence.abandon_after_minutes <= MAX_DELAY_MINUTES:
        errors.append(("abandon_after_minutes", f"must be between 0 and {MAX_DELAY_MINUTES}"))
    if not 1 <= len(sequence.steps) <= 10:
        errors.append(("steps", "must have between 1 and 10 steps"))
    for index, step in enumerate(sequence.steps):
        if not 0 <= step.delay_minutes <= MAX_DELAY_MINUTES:
            errors.append((f"steps[{index}].delay_minutes", f"must be between 0 and {MAX_DELAY_MINUTES}"))
        if step.channel != "email":
            errors.append((f"steps[{index}].channel", "only 'email' is supported"))
        errors += validate_discount(step.discount, f"steps[{index}].discount")
    if sequence.steps and sequence.steps[0].discount.active:
        # The field's practice: a code in the first reminder teaches customers to leave
        # carts behind to get one.
        errors.append(("steps[0].discount", "the first reminder carries no discount; offer it in a later step"))
    delays = [s.delay_minutes for s in sequence.steps]
    if delays != sorted(delays):
        errors.append(("steps", "delays must not decrease from one step to the next"))
    return errors


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the core works in aware UTC")
