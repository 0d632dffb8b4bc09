"""Abandonment and sequence rules: pure functions of a cart, the sequence and now."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bridge.model import OrderInfo
from bridge.rules import (DEFAULT_SEQUENCE, MAX_DELAY_MINUTES, SequenceSettings, StepSetting, is_stale,
                          order_matches_by_contact, plan_steps, validate_sequence)

LEFT_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)


def an_order(placed_at: datetime, *, email: str | None = None, customer_id: str | None = None) -> OrderInfo:
    return OrderInfo(order_id="1001", placed_at=placed_at, total=Decimal("98.00"), currency="USD",
                     email=email, customer_id=customer_id)


def fields(errors: list[tuple[str, str]]) -> list[str]:
    return [name for name, _reason in errors]


# plan_steps

def test_the_default_sequence_is_due_one_hour_one_day_and_three_days_after_the_customer_left():
    # given a cart left at 10:00 and the default sequence
    # when its steps are planned
    planned = plan_steps(LEFT_AT, DEFAULT_SEQUENCE)
    # then three email steps are due at +1 h, +24 h and +72 h
    assert [(p.position, p.due_at - LEFT_AT, p.channel) for p in planned] == [
        (1, timedelta(hours=1), "email"), (2, timedelta(hours=24), "email"), (3, timedelta(hours=72), "email")]


def test_a_step_shorter_than_the_idle_threshold_waits_for_the_threshold():
    # given a shop that calls a cart abandoned after 2 h but wants the first reminder after 30 min
    sequence = SequenceSettings(120, (StepSetting(1, 30), StepSetting(2, 180)))
    # when the steps are planned
    planned = plan_steps(LEFT_AT, sequence)
    # then the first step is pushed to the threshold and the second keeps its delay
    assert [p.due_at for p in planned] == [LEFT_AT + timedelta(minutes=120), LEFT_AT + timedelta(minutes=180)]


def test_delay_zero_with_threshold_zero_is_due_at_once():
    # given an immediate sequence
    sequence = SequenceSettings(0, (StepSetting(1, 0),))
    # when / then the step is due the moment the customer left
    assert [p.due_at for p in plan_steps(LEFT_AT, sequence)] == [LEFT_AT]


def test_disabled_steps_are_not_planned():
    # given a sequence whose middle step is switched off
    sequence = SequenceSettings(60, (StepSetting(1, 60), StepSetting(2, 1440, enabled=False),
                                     StepSetting(3, 4320)))
    # when the steps are planned
    planned = plan_steps(LEFT_AT, sequence)
    # then only the enabled ones are, keeping their positions
    assert [(p.position, p.due_at) for p in planned] == [
        (1, LEFT_AT + timedelta(minutes=60)), (3, LEFT_AT + timedelta(minutes=4320))]


def test_a_naive_last_activity_is_refused():
    # given a datetime without a timezone
    naive = datetime(2026, 11, 23, 10, 0)
    # when / then planning refuses to guess what it means
    with pytest.raises(ValueError, match="naive"):
        plan_steps(naive, DEFAULT_SEQUENCE)


def test_an_offset_datetime_plans_the_same_instants_as_utc():
    # given the same moment expressed at UTC+2
    local = LEFT_AT.astimezone(timezone(timedelta(hours=2)))
    # when / then the planned instants are identical
    assert [p.due_at for p in plan_steps(local, DEFAULT_SEQUENCE)] == [
        p.due_at for p in plan_steps(LEFT_AT, DEFAULT_SEQUENCE)]


# is_stale

def test_an_update_older_than_the_stored_one_is_stale():
    # given a stored update at 10:00 / when an older one arrives / then it is stale
    assert is_stale(LEFT_AT - timedelta(seconds=1), LEFT_AT) is True


def test_an_update_with_the_same_timestamp_is_stale():
    # given a stored update at 10:00 / when the same moment arrives again / then it changes nothing
    assert is_stale(LEFT_AT, LEFT_AT) is True


def test_a_newer_update_is_not_stale():
    # given a stored update at 10:00 / when a later one arrives / then it applies
    assert is_stale(LEFT_AT + timedelta(seconds=1), LEFT_AT) is False


def test_the_first_update_is_never_stale():
    # given nothing stored / when / then the update applies
    assert is_stale(LEFT_AT, None) is False


# order_matches_by_contact

def test_an_order_by_the_same_email_within_the_window_matches():
    # given an order by the cart's email two days after the cart was left
    order = an_order(LEFT_AT + timedelta(days=2), email="anna@example.com")
    # when / then it converts the cart
    assert order_matches_by_contact(order, "anna@example.com", None, LEFT_AT, WINDOW) is True


def test_an_order_by_the_same_email_outside_the_window_does_not_match():
    # given an order by the cart's email 31 days later, with a 30-day window
    order = an_order(LEFT_AT + timedelta(days=31), email="anna@example.com")
    # when / then it says nothing about this cart
    assert order_matches_by_contact(order, "anna@example.com", None, LEFT_AT, WINDOW) is False


def test_an_order_placed_before_the_cart_was_active_does_not_match():
    # given an order by the same email placed an hour before the cart's last activity
    order = an_order(LEFT_AT - timedelta(hours=1), email="anna@example.com")
    # when / then an earlier purchase does not convert a later cart
    assert order_matches_by_contact(order, "anna@example.com", None, LEFT_AT, WINDOW) is False


def test_an_order_by_the_same_customer_id_matches_without_an_email():
    # given an order carrying only the customer id
    order = an_order(LEFT_AT + timedelta(hours=3), customer_id="7001")
    # when / then the customer id is enough
    assert order_matches_by_contact(order, None, "7001", LEFT_AT, WINDOW) is True


def test_an_order_by_someone_else_does_not_match():
    # given an order by another email and another customer
    order = an_order(LEFT_AT + timedelta(hours=3), email="bob@example.com", customer_id="8002")
    # when / then it does not convert Anna's cart
    assert order_matches_by_contact(order, "anna@example.com", "7001", LEFT_AT, WINDOW) is False


def test_an_order_without_contact_details_never_matches():
    # given an order and a cart that both lack email and customer id
    order = an_order(LEFT_AT + timedelta(hours=3))
    # when / then missing values are not "the same person"
    assert order_matches_by_contact(order, None, None, LEFT_AT, WINDOW) is False


# validate_sequence

def test_the_default_sequence_is_valid():
    # given the default / when validated / then there are no errors
    assert validate_sequence(DEFAULT_SEQUENCE) == []


def test_a_negative_delay_is_named_by_its_field():
    # given a step with a negative delay
    sequence = SequenceSettings(60, (StepSetting(1, -5),))
    # when / then the error names that step's delay
    assert fields(validate_sequence(sequence)) == ["steps[0].delay_minutes"]


def test_a_negative_idle_threshold_is_named_by_its_field():
    # given a negative threshold
    sequence = SequenceSettings(-1, (StepSetting(1, 60),))
    # when / then the error names the threshold
    assert fields(validate_sequence(sequence)) == ["abandon_after_minutes"]


def test_a_delay_beyond_ninety_days_is_refused():
    # given a step one minute past the maximum
    sequence = SequenceSettings(60, (StepSetting(1, MAX_DELAY_MINUTES + 1),))
    # when / then it is refused on that field
    assert fields(validate_sequence(sequence)) == ["steps[0].delay_minutes"]


def test_more_than_ten_steps_are_refused():
    # given eleven steps
    sequence = SequenceSettings(60, tuple(StepSetting(i, 60 * i) for i in range(1, 12)))
    # when / then the error names the steps
    assert fields(validate_sequence(sequence)) == ["steps"]


def test_a_sequence_without_steps_is_refused():
    # given no steps / when / then the error names the steps
    assert fields(validate_sequence(SequenceSettings(60, ()))) == ["steps"]


def test_decreasing_delays_are_refused():
    # given a second step earlier than the first
    sequence = SequenceSettings(60, (StepSetting(1, 1440), StepSetting(2, 60)))
    # when validated
    errors = validate_sequence(sequence)
    # then the error names the steps and says why
    assert fields(errors) == ["steps"]
    assert "decrease" in errors[0][1]


def test_an_unsupported_channel_is_named_by_its_field():
    # given an SMS step
    sequence = SequenceSettings(60, (StepSetting(1, 60), StepSetting(2, 120, channel="sms")))
    # when / then the error names that step's channel
    assert fields(validate_sequence(sequence)) == ["steps[1].channel"]
