"""The variables a reminder template sees, built from a cart snapshot.

Pure: a ``CartSnapshot`` in, plain dicts, lists and strings out. Money is formatted
here (in the customer's locale and the cart's currency) so templates never do
arithmetic or formatting, and every optional value becomes "" so templates can
test it with ``!= blank`` and never print "None".
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import urlsplit

from bridge.discounts import DiscountKind, DiscountOffer
from bridge.model import CartSnapshot, Contact, LineItem
from bridge.money import format_datetime_local, format_money, format_percent


def money_locale(customer_locale: str | None, language: str) -> str:
    """The locale to format money and dates in for a message written in ``language``.

    The customer's full locale wins when it matches the message language ("en-GB"
    gives "£1,234.50" in an English message); otherwise the message language, so an
    English fallback message for a "pt-BR" customer does not mix in Portuguese
    number formatting.
    """
    tag = (customer_locale or "").strip().replace("_", "-")
    if tag.split("-", 1)[0].lower() == language:
        return tag
    return language


def safe_url(url: str | None) -> str:
    """Keep only absolute http(s) URLs.

    Image and product URLs come from the shop's database: escaping stops them from
    breaking out of an attribute, but a ``javascript:`` URL would still be a link.
    """
    candidate = (url or "").strip()
    if urlsplit(candidate).scheme.lower() in ("http", "https"):
        return candidate
    return ""


def _item_variables(item: LineItem, currency: str, locale: str) -> dict[str, object]:
    return {
        "title": item.title,
        "variant_title": item.variant_title or "",
        "quantity": item.quantity,
        "price": format_money(item.unit_price, currency, locale),
        "line_total": format_money(item.line_total, currency, locale),
        "image_url": safe_url(item.image_url),
        "url": safe_url(item.product_url),
    }


def _cart_variables(cart: CartSnapshot, locale: str, tz_name: str) -> dict[str, object]:
    items = [_item_variables(item, cart.currency, locale) for item in cart.line_items]
    return {
        "items": items,
        # Shopify's Liquid counts units, not lines (2 mugs + 1 tee = 3); merchants
        # who know cart.item_count from their theme expect the same here.
        "item_count": sum(item.quantity for item in cart.line_items),
        "subtotal": format_money(cart.subtotal, cart.currency, locale),
        "total": format_money(cart.total, cart.currency, locale),
        "first_item_title": cart.line_items[0].title if cart.line_items else "",
        "updated_at": format_datetime_local(cart.updated_at, locale, tz_name),
    }


NO_DISCOUNT_VARIABLES = {"code": "", "kind": "", "value": "", "expires_at": "", "free_shipping": False}


def discount_variables(offer: DiscountOffer | None, locale: str, tz_name: str) -> dict[str, object]:
    """``discount.*``: the code, its value formatted ("10%", "5,00 €"; "" for free
    shipping, which templates word themselves via ``discount.free_shipping``) and the
    expiry in the customer's locale. All blank when the step carries no code."""
    if offer is None:
        return dict(NO_DISCOUNT_VARIABLES)
    values = {DiscountKind.PERCENTAGE: lambda: format_percent(offer.value, locale),
              DiscountKind.FIXED_AMOUNT: lambda: format_money(offer.value, offer.currency, locale)}
    return {"code": offer.code, "kind": offer.kind.value, "value": values.get(offer.kind, lambda: "")(),
            "expires_at": format_datetime_local(offer.expires_at, locale, tz_name),
            "free_shipping": offer.kind == DiscountKind.FREE_SHIPPING}


def template_variables(
    cart: CartSnapshot,
    *,
    step: int,
    language: str,
    shop_name: str,
    recovery_url: str | None,
    unsubscribe_url: str | None,
    tz_name: str,
    discount: DiscountOffer | None = None,
) -> dict[str, object]:
    """Everything a reminder template may use, already formatted for display."""
    locale = money_locale(cart.locale, language)
    return {
        "discount": discount_variables(discount, locale, tz_name),
        "customer": {"first_name": (cart.contact.first_name or "").strip()},
        "shop": {"name": shop_name.strip()},
        "cart": _cart_variables(cart, locale, tz_name),
        # The caller's URL (usually our click-tracking redirect) wins; the platform's
        # own checkout link is the fallback. Never the shop's home page.
        "recovery_url": safe_url(recovery_url or cart.recovery_url),
        "unsubscribe_url": safe_url(unsubscribe_url),
        "step": step,
        "language": language,
    }


def sample_cart(currency: str = "USD") -> CartSnapshot:
    """A realistic two-line cart used to trial-render templates before saving them."""
    return CartSnapshot(
        external_id="sample",
        contact=Contact(email="customer@example.com", first_name="Alex"),
        currency=currency,
        line_items=(
            LineItem("Linen shirt", 1, Decimal("49.90"), variant_title="M / Blue",
                     image_url="https://example.com/shirt.jpg"),
            LineItem("Canvas tote bag", 2, Decimal("15.00")),
        ),
        subtotal=Decimal("79.90"),
        total=Decimal("79.90"),
        updated_at=datetime(2025, 1, 15, 12, 0, tzinfo=timezone.utc),
        recovery_url="https://example.com/checkouts/sample/recover",
    )


def sample_discount(currency: str = "USD") -> DiscountOffer:
    """The code shown when trial-rendering a template (a discount block must render too)."""
    return DiscountOffer(code="CB-SAMPLE2345", kind=DiscountKind.PERCENTAGE, value=Decimal("10"),
                         currency=currency, expires_at=datetime(2025, 1, 18, 12, 0, tzinfo=timezone.utc))
