"""Abandoned checkouts on the local Shopify Admin API: ``abandonedCheckouts``, ``abandonedCheckoutsCount``.

Each checkout is shown as the documented ``AbandonedCheckout`` object (its line items a
connection of ``AbandonedCheckoutLineItem``, its buyer a ``Customer`` with
``defaultEmailAddress``/``defaultPhoneNumber``): the object has no email or phone of its own.
https://shopify.dev/docs/api/admin-graphql/latest/objects/AbandonedCheckout
Filters (https://shopify.dev/docs/api/admin-graphql/latest/queries/abandonedCheckouts):
``created_at``, ``updated_at``, ``id`` and ``status`` (open|closed); other terms are ignored.
Sort keys: ``AbandonedCheckoutSortKeys`` (ID is the default; there is no UPDATED_AT).
``CheckoutsMixin`` gives ``ShopifyAdminServer`` its ``add_checkout``/``update_checkout``/
``complete_checkout`` helpers.
"""
from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Callable

from tests.servers.shopify_paging import connection
from tests.servers.shopify_search import Match, matches, parse_search, time_matches

SORT_KEYS: dict[str, Callable[["StoredCheckout"], tuple]] = {
    "ID": lambda c: (c.number,), "CHECKOUT_ID": lambda c: (c.number,),
    "CREATED_AT": lambda c: (c.created_at, c.number), "TOTAL_PRICE": lambda c: (float(c.total), c.number),
    "CUSTOMER_NAME": lambda c: ((c.customer or {}).get("firstName") or "", c.number),
    "RELEVANCE": lambda c: (c.number,)}


@dataclass(frozen=True)
class CheckoutLine:
    """One ``AbandonedCheckoutLineItem`` (``price`` is the original unit price)."""
    title: str
    quantity: int = 1
    price: str = "10.00"
    variant_title: str | None = None
    sku: str | None = None
    product_id: int | None = 632910392
    variant_id: int | None = 808950810
    image_url: str | None = None


@dataclass(frozen=True)
class StoredCheckout:
    number: int                             # the n of gid://shopify/AbandonedCheckout/<n>
    token: str
    url: str                                # abandonedCheckoutUrl
    created_at: str
    updated_at: str
    currency: str
    lines: tuple[CheckoutLine, ...]
    customer: dict | None                   # the Customer node, as GraphQL shows it
    billing: dict | None = None             # MailingAddress nodes
    shipping: dict | None = None
    completed_at: str | None = None
    index: dict = field(default_factory=dict, compare=False)

    @property
    def id(self) -> str:
        return f"gid://shopify/AbandonedCheckout/{self.number}"

    @property
    def subtotal(self) -> str:
        return str(sum((Decimal(line.price) * line.quantity for line in self.lines), Decimal("0.00")))

    @property
    def total(self) -> str:
        return self.subtotal

    def reindexed(self) -> "StoredCheckout":
        return dataclasses.replace(self, index={"created_at": self.created_at, "updated_at": self.updated_at,
                                                "id": self.number, "closed": self.completed_at is not None})

    def node(self) -> dict[str, Any]:
        return {"id": self.id, "abandonedCheckoutUrl": self.url, "name": f"#{self.number}", "note": "",
                "createdAt": self.created_at, "updatedAt": self.updated_at, "completedAt": self.completed_at,
                "customer": self.customer, "billingAddress": self.billing, "shippingAddress": self.shipping,
                "discountCodes": [], "taxesIncluded": False,
                "subtotalPriceSet": _money(self.subtotal, self.currency),
                "totalPriceSet": _money(self.total, self.currency),
                "lineItems": partial(_lines_connection, self)}


def checkouts_connection(checkouts: list[StoredCheckout], args: dict) -> dict:
    tree = parse_search(args.get("query"))
    found = [c for c in checkouts if matches(tree, lambda term, c=c: _indexed_match(c.index, term))]
    return connection(found, SORT_KEYS[args.get("sortKey") or "ID"], args, StoredCheckout.node)


def checkouts_count(checkouts: list[StoredCheckout], args: dict) -> dict:
    tree = parse_search(args.get("query"))
    found = sum(1 for c in checkouts if matches(tree, lambda term, c=c: _indexed_match(c.index, term)))
    limit = args.get("limit")
    if limit is not None and found > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": found, "precision": "EXACT"}


def _indexed_match(index: dict, term: Match) -> bool:
    if term.field in ("created_at", "updated_at"):
        return time_matches(index[term.field], term)
    if term.field == "id":
        return _compare_number(index["id"], term)
    if term.field == "status" and term.comparator == ":":
        return index["closed"] == (term.value.lower() == "closed")
    return True                             # a term Shopify cannot use is ignored, not refused


def _compare_number(number: int, term: Match) -> bool:
    wanted = int(term.value.rpartition("/")[2])
    return {":": number == wanted, ":<": number < wanted, ":<=": number <= wanted,
            ":>": number > wanted, ":>=": number >= wanted}[term.comparator]


def _lines_connection(checkout: StoredCheckout, info, **args) -> dict:
    numbered = list(enumerate(checkout.lines, 1))
    return connection(numbered, lambda pair: (pair[0],), args, partial(_line_node, checkout))


def _line_node(checkout: StoredCheckout, pair: tuple[int, CheckoutLine]) -> dict:
    position, line = pair
    money = _money(line.price, checkout.currency)
    return {"id": f"gid://shopify/AbandonedCheckoutLineItem/{checkout.number * 100 + position}",
            "title": line.title, "variantTitle": line.variant_title, "quantity": line.quantity, "sku": line.sku,
            "originalUnitPriceSet": money, "discountedUnitPriceSet": money,
            "originalTotalPriceSet": _money(str(Decimal(line.price) * line.quantity), checkout.currency),
            "product": {"id": f"gid://shopify/Product/{line.product_id}"} if line.product_id else None,
            "variant": {"id": f"gid://shopify/ProductVariant/{line.variant_id}"} if line.variant_id else None,
            "image": {"url": line.image_url, "altText": None} if line.image_url else None}


def _money(amount: str, currency: str) -> dict:
    money = {"amount": amount, "currencyCode": currency}
    return {"presentmentMoney": money, "shopMoney": money}


def customer_node(customer_id: int | None, first_name: str | None, email: str | None, phone: str | None,
                  locale: str, marketing: str) -> dict | None:
    if customer_id is None:
        return None
    return {"id": f"gid://shopify/Customer/{customer_id}", "firstName": first_name, "lastName": None,
            "locale": locale,
            "defaultEmailAddress": {"emailAddress": email, "marketingState": marketing} if email else None,
            "defaultPhoneNumber": {"phoneNumber": phone, "marketingState": "NOT_SUBSCRIBED"} if phone else None}


class CheckoutsMixin:
    """``ShopifyAdminServer``'s checkout helpers (needs ``_lock``, ``_shop(name)`` and ``_ids``)."""

    def add_checkout(self, shop: str, *, email: str | None = "buyer@example.com", first_name: str | None = "Olena",
                     customer_id: int | None = None, phone: str | None = None, locale: str = "en",
                     marketing: str = "NOT_SUBSCRIBED", lines: tuple[CheckoutLine, ...] | None = None,
                     currency: str = "USD", country: str | None = None, created_at: datetime | None = None,
                     updated_at: datetime | None = None, token: str | None = None,
                     url: str | None = None) -> StoredCheckout:
        """A checkout the buyer left with contact details. ``url`` replaces the recovery URL (a
        checkout extensibility ``/checkouts/ac/<cart token>/recover`` one, say)."""
        created = _iso(created_at or datetime.now(UTC))
        token = token or secrets.token_hex(16)
        address = {"firstName": first_name, "lastName": None, "countryCodeV2": country, "phone": phone}
        with self._lock:
            found, number = self._shop(shop), next(self._ids)
            checkout = StoredCheckout(
                number, token, url or f"https://{found.name}.myshopify.com/548380009/checkouts/{token}/recover"
                                      f"?key={secrets.token_hex(8)}",
                created, _iso(updated_at) if updated_at else created, currency,
                lines or (CheckoutLine("IPod Nano - 8GB", 1, "199.00", "Pink", "IPOD2008PINK"),),
                customer_node(customer_id if customer_id is not None else 603851970716743426 + number,
                              first_name, email, phone, locale, marketing) if (email or phone) else None,
                address if country else None, address if country else None).reindexed()
            found.checkouts[checkout.id] = checkout
            return checkout

    def update_checkout(self, shop: str, checkout_id: str, updated_at: datetime | None = None,
                        reindex: bool = True, **changes: Any) -> StoredCheckout:
        """Change a checkout (``lines``, ``customer``...); ``updated_at`` moves to now unless given."""
        changes["updated_at"] = _iso(updated_at or datetime.now(UTC))
        with self._lock:
            checkouts = self._shop(shop).checkouts
            checkout = dataclasses.replace(checkouts[checkout_id], **changes)
            checkouts[checkout_id] = checkout.reindexed() if reindex else checkout
            return checkouts[checkout_id]

    def complete_checkout(self, shop: str, checkout_id: str, at: datetime | None = None) -> StoredCheckout:
        """The buyer paid: ``completedAt`` (and ``updatedAt``) set; the checkout stays listed."""
        moment = at or datetime.now(UTC)
        return self.update_checkout(shop, checkout_id, updated_at=moment, completed_at=_iso(moment))

    def checkouts(self, shop: str) -> list[StoredCheckout]:
        with self._lock:
            return list(self._shop(shop).checkouts.values())


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
