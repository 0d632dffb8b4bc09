"""How long to wait before retrying a failed outbound call (channel sends, platform API calls).

Capped exponential backoff with "full jitter": the delay is drawn uniformly from
``[0, min(cap, base * 2 ** (attempt - 1))]``. Spreading retries over the whole window keeps
many workers that failed together (a provider outage, a 429 burst) from retrying together.
See https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/ .

Pure apart from the random draw, which callers (and tests) can make deterministic by
passing their own ``random.Random``.
"""
from __future__ import annotations

import math
import random


def backoff_delay(attempt: int, *, base: float = 30.0, cap: float = 3600.0,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry).

    With the defaults the window grows 30 s, 60 s, 120 s, ... and stops growing at one hour.
    """
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    try:
        ceiling = min(cap, math.ldexp(base, attempt - 1))   # base * 2 ** (attempt - 1)
    except OverflowError:                                     # attempt in the thousands
        ceiling = cap
    # Without an explicit rng use the random module's shared instance, not one of our own:
    # CPython reseeds that one in every forked child, so worker processes forked from one
    # parent do not all draw the same "random" delays.
    uniform = rng.uniform if rng is not None else random.uniform
    return uniform(0.0, ceiling)
