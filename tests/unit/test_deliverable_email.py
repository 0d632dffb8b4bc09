"""What the admin page accepts as an address to send to (test sends, opt-outs, the sender)."""
from __future__ import annotations

import pytest

from bridge.contacts import deliverable_email


def test_a_real_address_comes_back_normalized():
    assert deliverable_email("  Anna@Example.COM ") == "anna@example.com"


@pytest.mark.parametrize("typed", ["anna@", "anna@localhost", "anna@example.c", "a b@example.com",
                                   "anna@example.com, bob@example.com", "Anna <anna@example.com>",
                                   "anna@example.com\r\nBcc: x@example.com", "", None])
def test_anything_that_is_not_one_address_is_refused(typed):
    assert deliverable_email(typed) is None
