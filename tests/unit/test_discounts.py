"""The pure discount rules: codes, settings validation, who qualifies, the config file shape."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bridge.config_discounts import discount_to_json, parse_discount
from bridge.config_file import ConfigError, parse_config
from bridge.discounts import (CODE_ALPHABET, DEFAULT_STEP_DISCOUNT, NO_DISCOUNT, DiscountKind, DiscountSetting,
                              build_spec, discount_code, expiry_reminder_due, validate_discount, why_no_code)
from bridge.rules import DEFAULT_SEQUENCE, SequenceSettings, StepSetting, validate_sequence

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_code_is_the_same_on_every_attempt_for_the_same_cart_and_step():
    assert discount_code(b"k", 1, 42, 2, "CB-") == discount_code(b"k", 1, 42, 2, "CB-")


def test_codes_differ_by_cart_step_shop_and_secret():
    codes = {discount_code(b"k", 1, 42, 2, ""), discount_code(b"k", 1, 43, 2, ""),
             discount_code(b"k", 1, 42, 3, ""), discount_code(b"k", 2, 42, 2, ""),
             discount_code(b"other", 1, 42, 2, "")}
    assert len(codes) == 5


def test_a_code_has_the_prefix_and_ten_unambiguous_characters():
    code = discount_code(b"k", 1, 42, 2, "SPRING-")
    assert code.startswith("SPRING-")
    tail = code.removeprefix("SPRING-")
    assert len(tail) == 10 and set(tail) <= set(CODE_ALPHABET)
    assert not set(tail) & set("01OI")


def test_ten_thousand_carts_get_ten_thousand_distinct_codes():
    assert len({discount_code(b"k", 1, cart, 2, "") for cart in range(10_000)}) == 10_000


@pytest.mark.parametrize("setting, field", [
    (DiscountSetting(DiscountKind.PERCENTAGE, Decimal("0")), "s.value"),
    (DiscountSetting(DiscountKind.PERCENTAGE, Decimal("101")), "s.value"),
    (DiscountSetting(DiscountKind.FIXED_AMOUNT, Decimal("-5")), "s.value"),
    (DiscountSetting(DiscountKind.PERCENTAGE, Decimal("10"), valid_hours=0), "s.valid_hours"),
    (DiscountSetting(DiscountKind.PERCENTAGE, Decimal("10"), minimum_subtotal=Decimal("-1")), "s.minimum_subtotal"),
    (DiscountSetting(DiscountKind.PERCENTAGE, Decimal("10"), code_prefix="bad prefix!"), "s.code_prefix"),
])
def test_a_bad_discount_setting_names_its_field(setting, field):
    assert [f for f, _ in validate_discount(setting, "s")] == [field]


def test_free_shipping_needs_no_value_and_none_needs_nothing():
    assert validate_discount(DiscountSetting(DiscountKind.FREE_SHIPPING), "s") == []
    assert validate_discount(NO_DISCOUNT, "s") == []


def test_the_default_sequence_offers_ten_percent_for_72_hours_in_step_two_only():
    assert [s.discount for s in DEFAULT_SEQUENCE.steps] == [NO_DISCOUNT, DEFAULT_STEP_DISCOUNT, NO_DISCOUNT]
    assert DEFAULT_STEP_DISCOUNT.value == Decimal("10") and DEFAULT_STEP_DISCOUNT.valid_hours == 72
    assert validate_sequence(DEFAULT_SEQUENCE) == []


def test_the_first_reminder_may_not_carry_a_discount():
    sequence = SequenceSettings(60, (StepSetting(1, 60, discount=DEFAULT_STEP_DISCOUNT), StepSetting(2, 1440)))
    assert ("steps[0].discount" in [f for f, _ in validate_sequence(sequence)])


@pytest.mark.parametrize("subtotal, previous, expected", [
    (Decimal("100"), False, None),
    (Decimal("49.99"), False, "cart below the discount minimum"),
    (Decimal("100"), True, "discount is for new customers only"),
])
def test_who_qualifies_for_a_code(subtotal, previous, expected):
    setting = DiscountSetting(DiscountKind.PERCENTAGE, Decimal("10"), minimum_subtotal=Decimal("50"),
                              new_customers_only=True)
    assert why_no_code(setting, subtotal, previous) == expected


def test_the_spec_runs_from_now_for_the_validity_and_names_our_cart():
    spec = build_spec(DEFAULT_STEP_DISCOUNT, code="CB-X", currency="EUR", now=NOW, cart_id=7, step=2,
                      email="a@example.com", customer_id="9")
    assert (spec.starts_at, spec.ends_at) == (NOW, NOW + timedelta(hours=72))
    assert spec.reference == "cartbridge cart 7 step 2" and spec.currency == "EUR"


def test_the_expiry_reminder_is_planned_only_when_on_and_still_ahead():
    expires = NOW + timedelta(hours=72)
    assert expiry_reminder_due(expires, 24, NOW) == NOW + timedelta(hours=48)
    assert expiry_reminder_due(expires, None, NOW) is None
    assert expiry_reminder_due(NOW + timedelta(hours=2), 24, NOW) is None


def test_the_config_discount_round_trips():
    setting = DiscountSetting(DiscountKind.FIXED_AMOUNT, Decimal("4.99"), 336, Decimal("50.00"), True, "VIP-")
    errors: list = []
    assert parse_discount(discount_to_json(setting), "d", errors) == setting and errors == []
    assert discount_to_json(NO_DISCOUNT) is None and parse_discount(None, "d", errors) == NO_DISCOUNT


def test_a_bad_config_discount_names_every_bad_field_and_nothing_is_applied():
    data = {"abandon_after_minutes": 60, "steps": [
        {"delay_minutes": 60},
        {"delay_minutes": 1440, "discount": {"type": "percentage", "value": "ten", "valid_hours": "72"}},
        {"delay_minutes": 4320, "discount": {"type": "bogof"}}]}
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    fields = [f for f, _ in caught.value.errors]
    assert fields == ["steps[1].discount.value", "steps[1].discount.valid_hours", "steps[2].discount.type"]


def test_config_accepts_the_shop_discount_choices_and_the_expiry_template():
    data = {"abandon_after_minutes": 60, "send_without_discount": True, "expiry_reminder_hours": 24,
            "steps": [{"delay_minutes": 60}, {"delay_minutes": 1440, "discount": {"type": "free_shipping"}}],
            "templates": [{"step": 100, "language": "en", "subject": "Your code {{ discount.code }}",
                           "html": "<p>{{ discount.expires_at }}</p>", "text": "{{ discount.code }}"}]}
    config = parse_config(data)
    assert config.shop_fields == {"send_without_discount": True, "expiry_reminder_hours": 24}
    assert config.sequence.steps[1].discount.kind == DiscountKind.FREE_SHIPPING
    assert [t.step for t in config.templates] == [100]
