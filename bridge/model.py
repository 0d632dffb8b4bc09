"""The shared model every connector normalizes into; pure data, no I/O.

Connectors turn platform payloads into the events at the bottom of this module. The
core never sees a platform payload, only these values. Money is a ``Decimal`` next to
its ISO 4217 currency; every datetime is timezone-aware (UTC where the platform gives
an offset we convert it).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


def _check(owner: str, values: dict[str, tuple[str | None, int]], currency: str | None = None) -> None:
    """Refuse what the store cannot hold, naming the field (the tables' limits).

    Every connector hands its values over here, so an odd payload becomes a dead
    letter with a reason at once, on every database, instead of a storage error.
    """
    for name, (value, limit) in values.items():
        if value is not None and len(value) > limit:
            raise UnprocessableDelivery(f"{owner}.{name} is longer than {limit} characters")
    if currency is not None and not (len(currency) == 3 and currency.isascii() and currency.isupper()):
        raise UnprocessableDelivery(f"{owner}.currency is not an ISO 4217 code: {currency[:12]!r}")


class CartState(str, enum.Enum):
    OPEN = "open"                # seen, still within the idle threshold
    ABANDONED = "abandoned"      # idle past the threshold: reminders are going out
    RECOVERED = "recovered"      # converted after at least one reminder was sent
    CONVERTED = "converted"      # converted before any reminder was sent
    EXPIRED = "expired"          # the sequence ran out without an order
    SUPPRESSED = "suppressed"    # no reminders allowed (no contact, opted out, ...)
    REMOVED = "removed"          # deleted/cancelled/refunded on the platform


@dataclass(frozen=True)
class Contact:
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    customer_id: str | None = None  # the platform's customer id, as a string

    def __post_init__(self) -> None:
        _check("contact", {"email": (self.email, 320), "phone": (self.phone, 64),
                           "first_name": (self.first_name, 255), "customer_id": (self.customer_id, 64)})


@dataclass(frozen=True)
class LineItem:
    title: str
    quantity: int
    unit_price: Decimal
    variant_title: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    image_url: str | None = None
    product_url: str | None = None

    def __post_init__(self) -> None:
        _check("line_item", {"product_id": (self.product_id, 64), "variant_id": (self.variant_id, 64),
                             "sku": (self.sku, 255)})

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class CartSnapshot:
    """A cart or checkout as the platform last described it.

    ``external_id`` is the platform's stable identity of the checkout (Shopify checkout
    ``token``; WooCommerce order id). ``cart_token`` is Shopify's cart token (orders may
    carry only that one).
    """
    external_id: str
    contact: Contact
    currency: str
    line_items: tuple[LineItem, ...]
    subtotal: Decimal
    total: Decimal
    updated_at: datetime
    created_at: datetime | None = None
    cart_token: str | None = None
    locale: str | None = None          # BCP 47-ish: "en", "ru", "uk-UA", "pt-BR"
    recovery_url: str | None = None
    accepts_marketing: bool | None = None
    country: str | None = None         # ISO 3166-1 alpha-2 of the buyer's address: their time zone
    timezone: str | None = None        # an IANA zone when the platform (or plugin) knows it

    def __post_init__(self) -> None:
        _check("checkout", {"external_id": (self.external_id, 255), "cart_token": (self.cart_token, 255),
                            "locale": (self.locale, 35), "country": (self.country, 2),
                            "timezone": (self.timezone, 64)}, self.currency)


@dataclass(frozen=True)
class OrderInfo:
    """An order that may convert a cart.

    ``checkout_ref`` matches ``CartSnapshot.external_id``; ``cart_token`` matches
    ``CartSnapshot.cart_token``; with neither, the core falls back to email or
    customer id within a time window (Shopify's ``orders/create`` may have both null).
    """
    order_id: str
    placed_at: datetime
    total: Decimal
    currency: str
    checkout_ref: str | None = None
    cart_token: str | None = None
    email: str | None = None
    customer_id: str | None = None
    discount_codes: tuple[str, ...] = ()   # codes applied to the order, as the platform spells them

    def __post_init__(self) -> None:
        for code in self.discount_codes:
            _check("order", {"discount_code": (code, 64)})
        _check("order", {"order_id": (self.order_id, 64), "checkout_ref": (self.checkout_ref, 255),
                         "cart_token": (self.cart_token, 255), "email": (self.email, 320),
                         "customer_id": (self.customer_id, 64)}, self.currency)


@dataclass(frozen=True)
class CartObserved:
    snapshot: CartSnapshot


@dataclass(frozen=True)
class CartConverted:
    order: OrderInfo


@dataclass(frozen=True)
class CartRemoved:
    external_id: str | None
    occurred_at: datetime
    cart_token: str | None = None


@dataclass(frozen=True)
class ConsentChanged:
    """The customer's email marketing consent changed on the platform.

    ``accepts`` is True for "subscribed", False for "not subscribed"/"unsubscribed";
    ``occurred_at`` orders it against the checkouts' own ``buyer_accepts_marketing``.
    """
    contact: Contact
    accepts: bool
    occurred_at: datetime


@dataclass(frozen=True)
class CustomerDataRequested:
    """A privacy request: export everything held about this customer (Shopify
    ``customers/data_request``)."""
    contact: Contact
    request_id: str | None = None
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomerRedacted:
    """Erase this customer's personal data (Shopify ``customers/redact``)."""
    contact: Contact
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShopRedacted:
    """Erase everything of the shop (Shopify ``shop/redact``, 48 h after uninstall)."""


@dataclass(frozen=True)
class AppUninstalled:
    """The merchant removed the app: stop sending at once, forget the tokens."""
    occurred_at: datetime | None = None


Event = (CartObserved | CartConverted | CartRemoved | ConsentChanged | CustomerDataRequested | CustomerRedacted
         | ShopRedacted | AppUninstalled)


@dataclass(frozen=True)
class Envelope:
    """What a delivery is, read from headers (and the verified body where needed).

    ``delivery_key`` is the delivery's identity for deduplication: a second delivery
    with the same key is acknowledged and not processed again.
    """
    platform: str
    shop_key: str             # Shopify shop domain; WooCommerce shop id (from the URL)
    topic: str
    delivery_key: str
    triggered_at: datetime | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Verification:
    ok: bool
    code: str                 # stable log code: "verified", "missing_hmac_header", "invalid_hmac", ...
    status: int = 200         # HTTP status to answer when not ok


class UnprocessableDelivery(ValueError):
    """A verified delivery that cannot be turned into an event; kept with ``reason``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
