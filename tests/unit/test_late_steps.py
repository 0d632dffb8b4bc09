"""The late-step rule: a cart cartbridge first saw long after a step's time skips that step
(a backfill on install, or reconciliation after an outage), a little late still sends."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.rules import DEFAULT_SEQUENCE, LATE_STEP_GRACE, imported_too_late, plan_steps

LEFT_AT = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


def late_positions(first_seen: datetime) -> list[int]:
    return [p.position for p in plan_steps(LEFT_AT, DEFAULT_SEQUENCE) if imported_too_late(first_seen, p.due_at)]


def test_the_grace_is_twelve_hours():
    assert LATE_STEP_GRACE == timedelta(hours=12)


def test_a_cart_seen_on_time_skips_nothing():
    # given a cart seen the moment its customer left / then no step is late
    assert late_positions(LEFT_AT) == []


def test_a_lost_webhook_only_delays_a_reminder():
    # given a cart first seen by reconciliation 6 hours after the customer left (first reminder due at +1 h)
    # then the first reminder still goes, five hours late
    assert late_positions(LEFT_AT + timedelta(hours=6)) == []


def test_a_cart_imported_a_week_late_skips_every_step_whose_time_is_long_past():
    # given a cart found by the install's backfill a week after its customer left
    # then the 1 h, 24 h and 72 h reminders are all skipped
    assert late_positions(LEFT_AT + timedelta(days=7)) == [1, 2, 3]


def test_a_cart_imported_two_days_late_still_gets_its_third_reminder():
    # given a cart first seen 50 hours after its customer left
    # then the 1 h and 24 h reminders are skipped, the 72 h one is still ahead
    assert late_positions(LEFT_AT + timedelta(hours=50)) == [1, 2]


@pytest.mark.parametrize("late_by, skipped", [(timedelta(hours=12), False),
                                              (timedelta(hours=12, seconds=1), True)],
                         ids=["exactly-the-grace", "just-past-the-grace"])
def test_the_grace_itself_still_sends(late_by, skipped):
    # given a step due at 11:00 / when the cart was first seen that much later / then
    due = LEFT_AT + timedelta(hours=1)
    assert imported_too_late(due + late_by, due) is skipped


def test_a_naive_moment_is_refused():
    # the core works in aware UTC
    with pytest.raises(ValueError):
        imported_too_late(datetime(2026, 11, 23, 10, 0), LEFT_AT)
