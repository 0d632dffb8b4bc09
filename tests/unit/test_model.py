"""The shared model refuses what the store cannot hold, naming the field."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bridge.model import CartSnapshot, Contact, OrderInfo, UnprocessableDelivery

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _snapshot(**changes) -> CartSnapshot:
    values = dict(external_id="tok", contact=Contact(email="a@example.com"), currency="EUR", line_items=(),
                  subtotal=Decimal("1"), total=Decimal("1"), updated_at=NOW)
    return CartSnapshot(**{**values, **changes})


def test_a_well_formed_checkout_is_accepted():
    # when / then
    assert _snapshot().currency == "EUR"


@pytest.mark.parametrize("currency", ["EURO", "eur", "€", "E1"])
def test_a_currency_that_is_not_an_iso_code_is_unprocessable(currency):
    # when / then
    with pytest.raises(UnprocessableDelivery, match="checkout.currency"):
        _snapshot(currency=currency)


def test_an_overlong_phone_names_the_field():
    # when / then
    with pytest.raises(UnprocessableDelivery, match="contact.phone is longer than 64"):
        Contact(phone="+" + "1" * 80)


def test_an_order_with_an_overlong_id_or_odd_currency_is_unprocessable():
    # when / then
    with pytest.raises(UnprocessableDelivery, match="order.order_id"):
        OrderInfo(order_id="9" * 65, placed_at=NOW, total=Decimal("1"), currency="USD")
    with pytest.raises(UnprocessableDelivery, match="order.currency"):
        OrderInfo(order_id="1", placed_at=NOW, total=Decimal("1"), currency="dollars")
