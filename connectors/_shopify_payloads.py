"""Shopify payload normalizers: checkout and order bodies -> shared-model events (pure).

Each public function takes the envelope and the parsed JSON object of one topic and returns
one event, or raises ``UnprocessableDelivery`` naming what is missing. The topic table that
routes to them lives in ``connectors.shopify``.
Checkout fields: https://shopify.dev/docs/api/admin-rest/latest/resources/abandoned-checkouts
Order fields: https://shopify.dev/docs/api/admin-rest/latest/resources/order
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bridge.model import (CartConverted, CartObserved, CartRemoved, CartSnapshot, Contact,
                          Envelope, Event, LineItem, OrderInfo, UnprocessableDelivery)
from connectors import _parse as p


def _checkout_contact(payload: dict) -> Contact:
    """Top-level email/phone are what the buyer typed; the customer record backs them up."""
    customer = p.mapping(payload.get("customer"), "customer")
    billing = p.mapping(payload.get("billing_address"), "billing_address")
    shipping = p.mapping(payload.get("shipping_address"), "shipping_address")
    return Contact(
        email=p.first(p.email(payload.get("email")), p.email(customer.get("email"))),
        phone=p.first(p.text(payload.get("phone")), p.text(customer.get("phone"))),
        first_name=p.first(p.text(customer.get("first_name")),
                           p.text(billing.get("first_name")), p.text(shipping.get("first_name"))),
        customer_id=p.ident(customer.get("id")),
    )


def _real_variant(title: str | None) -> str | None:
    # A product with no options has one variant titled "Default Title"; it means nothing
    # to a shopper. https://shopify.dev/docs/api/admin-graphql/latest/objects/ProductVariant
    return None if title == "Default Title" else title


def _buyer_country(payload: dict) -> str | None:
    """The billing country, else the shipping one: the buyer's own address tells their time
    zone better than where a gift is sent. Checkouts carry no time zone of their own."""
    billing = p.mapping(payload.get("billing_address"), "billing_address")
    shipping = p.mapping(payload.get("shipping_address"), "shipping_address")
    return p.first(p.country(billing.get("country_code")), p.country(shipping.get("country_code")))


def _line_item(raw: Any, index: int) -> LineItem:
    """``presentment_*`` titles are in the buyer's language/currency, so prefer them."""
    field = f"line_items[{index}]"
    item = p.mapping(raw, field)
    return LineItem(
        title=p.first(p.text(item.get("presentment_title")), p.text(item.get("title"))) or "",
        variant_title=_real_variant(p.first(p.text(item.get("presentment_variant_title")),
                                            p.text(item.get("variant_title")))),
        quantity=p.quantity(item.get("quantity"), f"{field}.quantity"),
        unit_price=p.decimal(item.get("price"), f"{field}.price"),
        product_id=p.ident(item.get("product_id")),
        variant_id=p.ident(item.get("variant_id")),
        sku=p.text(item.get("sku")),
        image_url=p.first(p.url_of(item.get("image_url")), p.url_of(item.get("image"))),
        product_url=p.first(p.text(item.get("url")), p.text(item.get("product_url"))),
    )


def _checkout_currency(payload: dict) -> str:
    # Checkout prices are in the buyer's (presentment) currency; ``currency`` is the shop's.
    currency = p.first(p.text(payload.get("presentment_currency")), p.text(payload.get("currency")))
    return p.required_text(currency, "presentment_currency/currency")


def _snapshot(token: str, payload: dict) -> CartSnapshot:
    items = p.sequence(payload.get("line_items"), "line_items")
    return CartSnapshot(
        external_id=token,
        contact=_checkout_contact(payload),
        currency=_checkout_currency(payload),
        line_items=tuple(_line_item(item, index) for index, item in enumerate(items)),
        subtotal=p.decimal(payload.get("subtotal_price"), "subtotal_price"),
        total=p.decimal(payload.get("total_price"), "total_price"),
        updated_at=p.required_moment(payload.get("updated_at"), "updated_at"),
        created_at=p.moment(payload.get("created_at")),
        cart_token=p.text(payload.get("cart_token")),
        locale=p.text(payload.get("customer_locale")),
        recovery_url=p.text(payload.get("abandoned_checkout_url")),
        accepts_marketing=p.boolean(payload.get("buyer_accepts_marketing")),
        country=_buyer_country(payload),
    )


def _completed_checkout(token: str, payload: dict) -> OrderInfo:
    """The order id may not be in the checkout yet; "checkout:<token>" still names it uniquely."""
    contact = _checkout_contact(payload)
    return OrderInfo(
        order_id=p.ident(payload.get("order_id")) or f"checkout:{token}",
        placed_at=p.required_moment(payload.get("completed_at"), "completed_at"),
        total=p.decimal(payload.get("total_price"), "total_price"),
        currency=_checkout_currency(payload),
        checkout_ref=token,
        cart_token=p.text(payload.get("cart_token")),
        email=contact.email,
        customer_id=contact.customer_id,
    )


def checkout(envelope: Envelope, payload: dict) -> Event:
    """A checkout is the cart; once ``completed_at`` is set it has become an order."""
    token = p.text(payload.get("token"))
    if token is None:
        raise UnprocessableDelivery(f"{envelope.topic} without a checkout token")
    if p.text(payload.get("completed_at")):
        return CartConverted(_completed_checkout(token, payload))
    return CartObserved(_snapshot(token, payload))


def checkout_deleted(envelope: Envelope, payload: dict) -> Event:
    """The body is only ``{"id", "cart_token"}``, so the cart token is the only handle.

    There is no timestamp in the body. ``X-Shopify-Triggered-At`` is the honest one; when a
    proxy strips it, "now" is the one impurity we accept: the delivery arrives within seconds
    of the deletion and a removal only needs to order after the cart's last update.
    """
    cart_token = p.text(payload.get("cart_token"))
    if cart_token is None:
        raise UnprocessableDelivery("checkouts/delete without cart_token: nothing to match")
    occurred_at = envelope.triggered_at or datetime.now(UTC)
    return CartRemoved(external_id=None, occurred_at=occurred_at, cart_token=cart_token)


def _order_money(order: dict) -> tuple[Decimal, str]:
    """Order ``total_price`` is in the *shop* currency; the buyer paid the presentment amount.

    https://shopify.dev/docs/api/admin-rest/latest/resources/order#resource-object
    (``total_price_set.presentment_money``), so amount and currency always travel together.
    """
    price_set = p.mapping(order.get("total_price_set"), "total_price_set")
    presentment = p.mapping(price_set.get("presentment_money"), "total_price_set.presentment_money")
    if presentment.get("amount") is not None:
        currency = p.first(p.text(presentment.get("currency_code")),
                           p.text(order.get("presentment_currency")))
        return (p.decimal(presentment.get("amount"), "total_price_set.presentment_money.amount"),
                p.required_text(currency, "presentment_money.currency_code"))
    return (p.decimal(order.get("total_price"), "total_price"),
            p.required_text(order.get("currency"), "currency"))


def _placed_at(order: dict) -> datetime:
    """``processed_at`` is the order's own date (imports backdate it); ``created_at`` is ours."""
    placed_at = p.moment(order.get("processed_at")) or p.moment(order.get("created_at"))
    if placed_at is None:
        raise UnprocessableDelivery("order without processed_at or created_at")
    return placed_at


def order(envelope: Envelope, payload: dict) -> Event:
    """``checkout_token``/``cart_token`` may both be null (POS, drafts, API orders): the core
    then matches on email or customer id within a time window."""
    order_id = p.ident(payload.get("id"))
    if order_id is None:
        raise UnprocessableDelivery(f"{envelope.topic} without an order id")
    total, currency = _order_money(payload)
    customer = p.mapping(payload.get("customer"), "customer")
    return CartConverted(OrderInfo(
        order_id=order_id,
        placed_at=_placed_at(payload),
        total=total,
        currency=currency,
        checkout_ref=p.text(payload.get("checkout_token")),
        cart_token=p.text(payload.get("cart_token")),
        email=p.first(p.email(payload.get("email")), p.email(payload.get("contact_email")),
                      p.email(customer.get("email"))),
        customer_id=p.ident(customer.get("id")),
        discount_codes=_codes(payload.get("discount_codes"), "discount_codes"),
    ))


def _codes(entries, field: str) -> tuple[str, ...]:
    """``discount_codes: [{"code": "CB-...", "amount": "10.00", "type": "percentage"}]``."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise UnprocessableDelivery(f"{field} is not a list")
    return tuple(code for e in entries if isinstance(e, dict) and (code := p.text(e.get("code"))))
