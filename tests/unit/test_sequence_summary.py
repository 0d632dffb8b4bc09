"""The sequence in one sentence: durations, offers, disabled steps, locales."""
from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.discounts import DEFAULT_STEP_DISCOUNT, DiscountKind, DiscountSetting
from bridge.rules import DEFAULT_SEQUENCE, SequenceSettings, StepSetting
from bridge.sequence_summary import NO_REMINDERS, describe_offer, humanize_minutes, summarize


def percent(value: str) -> DiscountSetting:
    return DiscountSetting(DiscountKind.PERCENTAGE, Decimal(value), 72)


@pytest.mark.parametrize("minutes, text", [
    (0, "0 min"), (1, "1 min"), (45, "45 min"), (59, "59 min"), (60, "1 h"), (90, "1 h 30 min"),
    (24 * 60, "24 h"), (48 * 60, "48 h"), (72 * 60 - 1, "71 h 59 min"), (72 * 60, "3 days"),
    (73 * 60, "73 h"), (7 * 24 * 60, "7 days"), (90 * 24 * 60, "90 days"),
])
def test_minutes_read_as_minutes_hours_or_whole_days_from_three_days_up(minutes, text):
    # given a delay in minutes / when it is humanized / then it reads as a person would say it
    assert humanize_minutes(minutes) == text


def test_the_default_sequence_reads_as_a_timeline_with_its_offer():
    # given the default sequence (1 h, 24 h with 10% off, 72 h)
    # when it is summarized
    text = summarize(DEFAULT_SEQUENCE)
    # then each step is named in order, with the offer where there is one
    assert text == "After 1 h idle: 1 h, then 24 h with 10% off, then 3 days after the customer left."


def test_disabled_steps_are_left_out():
    # given a sequence whose middle step is switched off
    sequence = SequenceSettings(30, (StepSetting(1, 45), StepSetting(2, 120, enabled=False, discount=percent("5")),
                                     StepSetting(3, 1440)))
    # when it is summarized
    text = summarize(sequence)
    # then only the enabled steps appear
    assert text == "After 30 min idle: 45 min, then 24 h after the customer left."


def test_a_sequence_with_every_step_off_sends_nothing():
    # given a sequence whose only steps are disabled
    sequence = SequenceSettings(60, (StepSetting(1, 60, enabled=False), StepSetting(2, 120, enabled=False)))
    # when summarized / then it says plainly that no reminder goes out
    assert summarize(sequence) == NO_REMINDERS


def test_an_empty_sequence_sends_nothing():
    # given a sequence without steps / when summarized / then no reminder goes out
    assert summarize(SequenceSettings(60, ())) == "No reminders are sent."


def test_a_step_shorter_than_the_idle_threshold_is_said_at_the_threshold():
    # given a 2 h idle threshold and a first step set at 30 min
    sequence = SequenceSettings(120, (StepSetting(1, 30), StepSetting(2, 1440 + 90)))
    # when summarized
    text = summarize(sequence)
    # then the first step reads 2 h (it cannot go before the cart counts as abandoned)
    assert text == "After 2 h idle: 2 h, then 25 h 30 min after the customer left."


def test_zero_idle_and_zero_delay_go_out_at_once():
    # given a shop that calls a cart abandoned immediately and a first step at 0
    sequence = SequenceSettings(0, (StepSetting(1, 0), StepSetting(2, 60)))
    # when summarized / then the first step goes out at once
    assert summarize(sequence) == "Right after the customer leaves: at once, then 1 h after the customer left."


@pytest.mark.parametrize("discount, offer", [
    (percent("15"), "15% off"),
    (percent("12.5"), "12.5% off"),
    (DiscountSetting(DiscountKind.FIXED_AMOUNT, Decimal("5"), 48), "5 off"),
    (DiscountSetting(DiscountKind.FIXED_AMOUNT, Decimal("4.99"), 48), "4.99 off"),
    (DiscountSetting(DiscountKind.FREE_SHIPPING, Decimal("0"), 24), "free shipping"),
])
def test_each_kind_of_offer_is_named_without_a_currency(discount, offer):
    # given a later step with an offer
    sequence = SequenceSettings(60, (StepSetting(1, 60), StepSetting(2, 1440, discount=discount)))
    # when summarized
    text = summarize(sequence)
    # then the offer follows the step's time
    assert text == f"After 1 h idle: 1 h, then 24 h with {offer} after the customer left."


def test_a_plain_step_has_no_offer():
    # given the "none" discount / when described / then there is nothing to say
    assert describe_offer(DiscountSetting()) is None
    assert describe_offer(DEFAULT_STEP_DISCOUNT) == "10% off"


def test_numbers_follow_the_locale():
    # given a 12.5% step and a 4.5 fixed amount step
    sequence = SequenceSettings(60, (StepSetting(1, 60), StepSetting(2, 1440, discount=percent("12.5")),
                                     StepSetting(3, 4320, discount=DiscountSetting(
                                         DiscountKind.FIXED_AMOUNT, Decimal("4.5"), 72))))
    # when summarized for a German reader
    text = summarize(sequence, "de")
    # then decimals use a comma and the percent sign is spaced as German writes it
    assert "24 h with 12,5\xa0% off" in text
    assert "3 days with 4,5 off" in text


def test_an_unknown_locale_falls_back_to_english_numbers():
    # given a locale Babel does not know / when summarized / then English number formatting applies
    sequence = SequenceSettings(60, (StepSetting(1, 60), StepSetting(2, 1440, discount=percent("12.5"))))
    assert "with 12.5% off" in summarize(sequence, "xx-YY")
