"""WooCommerce checkout links: /checkout-link/?products=ID:QTY,...&coupon=CODE on the store's site. Pure."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bridge.model import LineItem
from connectors.base import TokenSet
from connectors.woocommerce import CONNECTOR
from connectors.woocommerce_store import discount_link

SITE = "https://shop.example"
PAYMENT_URL = "https://shop.example/checkout/order-pay/5012/?pay_for_order=true&key=wc_order_abc"


def item(product_id: str | None, quantity: int = 1, variant_id: str | None = None) -> LineItem:
    return LineItem(title="Linen shirt", quantity=quantity, unit_price=Decimal("40"), product_id=product_id,
                    variant_id=variant_id)


def test_the_link_refills_every_item_and_applies_the_code():
    # given a cart with two simple products
    items = [item("12", 2), item("34", 1)]
    # when a link for code CB-7KQ is made
    link = CONNECTOR.discount_link(SITE, PAYMENT_URL, "CB-7KQ", items)
    # then WooCommerce's checkout link carries each product with its quantity, and the code
    assert link == "https://shop.example/checkout-link/?products=12:2,34:1&coupon=CB-7KQ"


def test_a_variation_is_linked_by_its_own_id():
    # given a variable product line (product 40, variation 41)
    link = discount_link(SITE, None, "CB-7KQ", [item("40", 3, variant_id="41")])
    # then the variation id is the product id in the link
    assert link == "https://shop.example/checkout-link/?products=41:3&coupon=CB-7KQ"


def test_without_a_product_id_on_every_item_there_is_no_link():
    # given a cart where one line has no product id (a deleted product, a custom line)
    items = [item("12"), item(None)]
    # then no link is made: the caller falls back to the payment URL and shows the code
    assert discount_link(SITE, PAYMENT_URL, "CB-7KQ", items) is None


def test_an_id_that_is_not_a_number_gives_no_link():
    # given a line whose id is not a WooCommerce post id
    assert discount_link(SITE, None, "CB-7KQ", [item("12&coupon=FREE")]) is None


def test_an_empty_cart_or_a_missing_code_gives_no_link():
    assert discount_link(SITE, None, "CB-7KQ", []) is None
    assert discount_link(SITE, None, "", [item("12")]) is None


def test_the_code_is_quoted_as_one_query_value():
    # given a code with a space, an ampersand and a slash (a merchant-chosen prefix could hold anything)
    link = discount_link(SITE, None, "CB A&B/1", [item("12")])
    # then it cannot spill into another parameter
    assert link == "https://shop.example/checkout-link/?products=12:1&coupon=CB%20A%26B%2F1"


def test_a_site_in_a_subdirectory_keeps_its_path_and_loses_the_trailing_slash():
    # given WordPress installed under /store, stored with a trailing slash and capitals in the host
    link = discount_link("https://Example.COM/store/", None, "CB-7KQ", [item("12")])
    # then the link is on that site
    assert link == "https://example.com/store/checkout-link/?products=12:1&coupon=CB-7KQ"


def test_a_domain_without_a_scheme_is_linked_over_https():
    link = discount_link("shop.example", None, "CB-7KQ", [item("12")])
    assert link == "https://shop.example/checkout-link/?products=12:1&coupon=CB-7KQ"


def test_a_token_refresh_explains_that_woocommerce_keys_do_not_expire():
    # given a WooCommerce shop whose key was rejected
    tokens = TokenSet("unused", datetime(2026, 11, 23, tzinfo=UTC) + timedelta(hours=1))
    # when the core asks for a refresh
    answer = CONNECTOR.refresh_token(SITE, tokens, "", "", None)
    # then there is none: the merchant has to reconnect
    assert answer == "WooCommerce REST keys do not expire; reconnect the store"
