"""backoff_delay: capped exponential backoff with full jitter."""
import random

import pytest

from bridge.backoff import backoff_delay


class _Extremes(random.Random):
    """Answers every uniform(a, b) with a or b, to read the window's edges."""

    def __init__(self, pick_high: bool) -> None:
        super().__init__(0)
        self.pick_high = pick_high

    def uniform(self, a: float, b: float) -> float:
        return b if self.pick_high else a


def test_the_window_doubles_with_each_attempt_starting_at_base():
    # given an rng that always draws the top of the window
    rng = _Extremes(pick_high=True)
    # when the first four attempts are asked for
    delays = [backoff_delay(n, base=30, cap=3600, rng=rng) for n in (1, 2, 3, 4)]
    # then the ceiling is base * 2 ** (attempt - 1)
    assert delays == [30, 60, 120, 240]


def test_the_window_stops_growing_at_the_cap():
    # given an rng that always draws the top of the window
    rng = _Extremes(pick_high=True)
    # when attempts go past the point where base * 2**n exceeds the cap
    delays = [backoff_delay(n, base=30, cap=3600, rng=rng) for n in (8, 9, 50)]
    # then every delay is the cap
    assert delays == [3600, 3600, 3600]


def test_full_jitter_can_draw_zero():
    # given an rng that always draws the bottom of the window
    rng = _Extremes(pick_high=False)
    # when any attempt is asked for
    delay = backoff_delay(5, rng=rng)
    # then the delay is 0 (full jitter, not "equal jitter")
    assert delay == 0


def test_delays_stay_inside_the_window_and_are_spread_across_it():
    # given a seeded rng
    rng = random.Random(42)
    # when many third attempts are drawn
    delays = [backoff_delay(3, base=30, cap=3600, rng=rng) for _ in range(2000)]
    # then all lie in [0, 120] and they cover the window rather than clustering
    assert all(0 <= d <= 120 for d in delays)
    assert min(delays) < 12 and max(delays) > 108
    assert len(set(delays)) > 1900


def test_the_same_seed_gives_the_same_delays():
    # given two rngs with the same seed
    first, second = random.Random(7), random.Random(7)
    # when both draw a sequence of delays
    a = [backoff_delay(n, rng=first) for n in range(1, 10)]
    b = [backoff_delay(n, rng=second) for n in range(1, 10)]
    # then the sequences are identical (tests can pin delays)
    assert a == b


def test_a_huge_attempt_number_does_not_overflow():
    # given an attempt count far beyond any real retry budget
    rng = _Extremes(pick_high=True)
    # when its delay is asked for
    delay = backoff_delay(100_000, rng=rng)
    # then it is simply the cap
    assert delay == 3600


def test_without_an_rng_the_delay_is_still_inside_the_window():
    # given no rng (production use)
    # when a second attempt is drawn
    delay = backoff_delay(2, base=1, cap=10)
    # then it lies in [0, 2]
    assert 0 <= delay <= 2


@pytest.mark.parametrize("kwargs", [
    {"attempt": 0}, {"attempt": -1},
    {"attempt": 1, "base": 0}, {"attempt": 1, "cap": -5},
])
def test_nonsense_arguments_are_refused(kwargs):
    # given an attempt number that is not 1-based, or a non-positive base or cap
    attempt = kwargs.pop("attempt")
    # when / then the call fails loudly instead of returning a silly delay
    with pytest.raises(ValueError):
        backoff_delay(attempt, **kwargs)
