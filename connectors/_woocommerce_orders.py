"""WooCommerce order normalizers: an order body -> a shared-model event, by order status (pure).

WooCommerce has no cart webhook; an unpaid order (``pending``, ``failed``, or the block
checkout's ``checkout-draft``) is the cart we can see, and a paid status is its conversion.
The topic table that routes here lives in ``connectors.woocommerce``.
Order fields: https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties
Statuses: https://woocommerce.com/document/managing-orders/order-statuses/
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Callable

from bridge.model import (CartConverted, CartObserved, CartRemoved, CartSnapshot, Contact,
                          Envelope, Event, LineItem, OrderInfo, UnprocessableDelivery)
from connectors import _parse as p

# Order meta keys that multilingual plugins write the shopper's language into
# (WPML, TranslatePress, Polylang); core WooCommerce records no order locale.
LOCALE_META_KEYS = ("_locale", "wpml_language", "trp_language", "_trp_language", "pll_language")
# Order meta keys holding the buyer's email marketing opt-in (core has none); the first one
# present wins. Only keys seen written in the plugins' own code are listed:
# - "_cartbridge_accepts_marketing": our companion plugin's checkout checkbox.
# - "mailchimp_woocommerce_is_subscribed": Mailchimp for WooCommerce writes (int) 0/1 from the
#   classic checkout (https://github.com/mailchimp/mc-woocommerce, file includes/
#   class-mailchimp-woocommerce-newsletter.php, handleStatus) and the block checkout's opt-in
#   (blocks/woocommerce-blocks-integration.php, order_processed); WordPress keeps a PHP false
#   as "", which reads as "unknown", and writes no key when the classic checkbox was not
#   posted (hidden, or left unticked).
# MailPoet and Klaviyo are not listed: no order meta key of theirs could be confirmed in their
# code (MailPoet reads the posted checkbox and subscribes at once).
MARKETING_META_KEYS = ("_cartbridge_accepts_marketing", "mailchimp_woocommerce_is_subscribed")
# Our companion plugin's record of the buyer's IANA time zone; core WooCommerce keeps none.
TIMEZONE_META_KEY = "_cartbridge_timezone"
# Only these statuses have a working "pay for order" link; a checkout-draft's link fails
# because the draft is not payable until the block checkout submits it.
PAYABLE_STATUSES = frozenset({"pending", "failed"})


def _order_id(order: dict) -> str:
    order_id = p.ident(order.get("id"))
    if order_id is None:
        raise UnprocessableDelivery("order without an id")
    return order_id


def _gmt(order: dict, name: str) -> datetime | None:
    """``<name>_gmt`` is UTC; the site-local ``<name>`` is a last resort read as UTC too."""
    return p.moment(order.get(f"{name}_gmt")) or p.moment(order.get(name))


def _meta(order: dict) -> dict[str, Any]:
    """``meta_data`` as {key: value}; the first entry wins, as ``get_meta(single=true)`` does."""
    found: dict[str, Any] = {}
    for entry in p.sequence(order.get("meta_data"), "meta_data"):
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            found.setdefault(entry["key"], entry.get("value"))
    return found


def _locale(meta: dict[str, Any]) -> str | None:
    # WordPress locales look like "uk_UA"; the model speaks BCP 47 ("uk-UA").
    found = p.first(*(p.text(meta.get(key)) for key in LOCALE_META_KEYS))
    return found.replace("_", "-") if found else None


def _accepts_marketing(meta: dict[str, Any]) -> bool | None:
    return next((answer for answer in (p.boolean(meta.get(key)) for key in MARKETING_META_KEYS)
                 if answer is not None), None)


def _country(order: dict) -> str | None:
    """``billing.country``/``shipping.country`` are ISO codes ("" when not asked for)."""
    billing = p.mapping(order.get("billing"), "billing")
    shipping = p.mapping(order.get("shipping"), "shipping")
    return p.first(p.country(billing.get("country")), p.country(shipping.get("country")))


def _contact(order: dict) -> Contact:
    billing = p.mapping(order.get("billing"), "billing")
    shipping = p.mapping(order.get("shipping"), "shipping")
    return Contact(
        email=p.email(billing.get("email")),
        phone=p.text(billing.get("phone")),
        first_name=p.first(p.text(billing.get("first_name")), p.text(shipping.get("first_name"))),
        customer_id=p.ident(order.get("customer_id")),  # 0 = guest
    )


def _line(raw: Any, index: int) -> tuple[LineItem, Decimal]:
    """A line item and its ``subtotal`` (before coupons), which sum to the cart subtotal."""
    field = f"line_items[{index}]"
    item = p.mapping(raw, field)
    quantity = p.quantity(item.get("quantity"), f"{field}.quantity")
    subtotal = p.decimal(item.get("subtotal"), f"{field}.subtotal")
    if item.get("price") is not None:
        unit_price = p.decimal(item.get("price"), f"{field}.price")
    else:
        unit_price = subtotal / quantity if quantity else subtotal
    return LineItem(
        title=p.text(item.get("name")) or "",
        quantity=quantity,
        unit_price=unit_price,
        product_id=p.ident(item.get("product_id")),
        variant_id=p.ident(item.get("variation_id")),  # 0 = simple product
        sku=p.text(item.get("sku")),
        image_url=p.url_of(item.get("image")),
        product_url=p.text(item.get("permalink")),
    ), subtotal


def _observed(order: dict) -> Event:
    order_id, status, meta = _order_id(order), p.text(order.get("status")), _meta(order)
    lines = [_line(item, index)
             for index, item in enumerate(p.sequence(order.get("line_items"), "line_items"))]
    updated_at = _gmt(order, "date_modified")
    if updated_at is None:
        raise UnprocessableDelivery("order without date_modified_gmt")
    return CartObserved(CartSnapshot(
        external_id=order_id,
        contact=_contact(order),
        currency=p.required_text(order.get("currency"), "currency"),
        line_items=tuple(item for item, _ in lines),
        subtotal=sum((subtotal for _, subtotal in lines), Decimal("0")),
        total=p.decimal(order.get("total"), "total"),
        updated_at=updated_at,
        created_at=_gmt(order, "date_created"),
        locale=_locale(meta),
        recovery_url=p.text(order.get("payment_url")) if status in PAYABLE_STATUSES else None,
        accepts_marketing=_accepts_marketing(meta),
        country=_country(order),
        timezone=p.iana_zone(meta.get(TIMEZONE_META_KEY)),
    ))


def _converted(order: dict) -> Event:
    """``date_paid`` is null for on-hold (bank transfer, cheque): creation is the placing."""
    order_id = _order_id(order)
    placed_at = _gmt(order, "date_paid") or _gmt(order, "date_created")
    if placed_at is None:
        raise UnprocessableDelivery("order without date_paid_gmt or date_created_gmt")
    contact = _contact(order)
    return CartConverted(OrderInfo(
        order_id=order_id,
        placed_at=placed_at,
        total=p.decimal(order.get("total"), "total"),
        currency=p.required_text(order.get("currency"), "currency"),
        checkout_ref=order_id,  # the order id *is* the cart's external_id on WooCommerce
        email=contact.email,
        customer_id=contact.customer_id,
        # coupon_lines: [{"id": 9, "code": "cb-7kq2m9xh4d", "discount": "10.00", ...}]
        discount_codes=tuple(code for line in order.get("coupon_lines") or () if isinstance(line, dict)
                             and (code := p.text(line.get("code")))),
    ))


def _removed(order: dict) -> Event:
    occurred_at = _gmt(order, "date_modified")
    if occurred_at is None:
        raise UnprocessableDelivery("order without date_modified_gmt")
    return CartRemoved(external_id=_order_id(order), occurred_at=occurred_at)


STATUS_HANDLERS: dict[str, Callable[[dict], Event]] = {
    "pending": _observed,
    "failed": _observed,
    "checkout-draft": _observed,
    "processing": _converted,
    "completed": _converted,
    "on-hold": _converted,  # the buyer finished checkout; payment is on its way
    "cancelled": _removed,
    "refunded": _removed,
    "trash": _removed,
}


def order_by_status(envelope: Envelope, order: dict) -> Event:
    """The payload is built at delivery time, so ``order.created`` may already be paid:
    the status, not the topic, says what happened."""
    status = p.text(order.get("status"))
    handler = STATUS_HANDLERS.get(status or "")
    if handler is None:
        raise UnprocessableDelivery(f"unknown order status: {status}")
    return handler(order)


def order_deleted(envelope: Envelope, payload: dict) -> Event:
    """The body is only ``{"id": N}`` and WooCommerce sends no timestamp header, so the
    moment of removal is "now": the one accepted impurity, because the delivery is sent
    synchronously or from the next Action Scheduler run, seconds after the deletion."""
    occurred_at = envelope.triggered_at or datetime.now(UTC)
    return CartRemoved(external_id=_order_id(payload), occurred_at=occurred_at)
