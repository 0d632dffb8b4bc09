"""Shopify reconciliation: what changed since a moment, read back through Admin GraphQL and
reshaped into the webhook bodies the normalizers already read (pure; ``ShopifyStore.changes``
sends the documents).

- ``checkouts``: ``abandonedCheckouts`` -> ``checkouts/update`` bodies. The object has no
  email, phone, locale or marketing flag of its own: they come from its ``customer``
  (``defaultEmailAddress``, ``defaultPhoneNumber``, ``locale``). Its checkout token is only in
  ``abandonedCheckoutUrl`` (``/<shop id>/checkouts/<token>/recover``); a URL without one is
  skipped (counted), never keyed another way: a second key for one checkout would be a
  second cart and a duplicate reminder. Checkout extensibility's
  ``/checkouts/ac/<cart token>/recover`` names the *cart* token, not the checkout token the
  webhooks carry: such a checkout is keyed ``cart:<cart token>`` with that ``cart_token``, and
  the core treats a checkout it does not know whose cart token belongs to an open cart as that
  cart (``bridge.services.carts``), whichever of the webhook and the sync arrives first.
  https://shopify.dev/docs/api/admin-graphql/latest/objects/AbandonedCheckout
- ``orders``: ``orders`` -> ``orders/create`` bodies (GraphQL has no checkout or cart token:
  the core matches such an order by email or customer id).
  https://shopify.dev/docs/api/admin-graphql/latest/objects/Order

Both read ``updated_at:>='<since>'`` (https://shopify.dev/docs/api/usage/search-syntax).
Orders come sorted by UPDATED_AT, oldest first. ``AbandonedCheckoutSortKeys`` has no
UPDATED_AT, so checkouts come by ID and only each page is sorted by updatedAt: a caller that
moves its stored moment forward must do so after the last page, to the newest ``updated_at``
it saw. The first page also asks for the count (``total``).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable

from connectors.base import CallOutcome, ChangePage, StoreResult, SyncItem

log = logging.getLogger(__name__)
CHECKOUTS_FIRST, LINES_FIRST, ORDERS_FIRST = 10, 10, 50
# Requested cost (a connection 2 + first x node; an object 1, a MoneyBag 2; scalars free), kept
# under Shopify's 1000-point single-query limit: a checkout 1 + customer 3 + addresses 2 +
# prices 4 + lineItems (2 + 10 lines x 6) = 72 -> 722; an order 1 + customer 1 + price 2 = 4 ->
# 202. The first page's count adds 1. https://shopify.dev/docs/api/usage/limits#cost-calculation
CHECKOUTS_COST = 2.0 + CHECKOUTS_FIRST * (12 + LINES_FIRST * 6) + 1
ORDERS_COST = 2.0 + ORDERS_FIRST * 4 + 1
_MONEY = "presentmentMoney { amount currencyCode }"
_PAGE = "pageInfo { hasNextPage endCursor }"
CHECKOUT_FIELDS = (
    "id abandonedCheckoutUrl createdAt updatedAt completedAt "
    "customer { id firstName locale defaultEmailAddress { emailAddress marketingState } "
    "defaultPhoneNumber { phoneNumber } } "
    "billingAddress { firstName countryCodeV2 } shippingAddress { firstName countryCodeV2 } "
    f"subtotalPriceSet {{ {_MONEY} }} totalPriceSet {{ {_MONEY} }} "
    f"lineItems(first: {LINES_FIRST}) {{ nodes {{ title variantTitle quantity sku "
    f"originalUnitPriceSet {{ {_MONEY} }} product {{ id }} variant {{ id }} image {{ url }} }} }}")
ORDER_FIELDS = (f"id name email createdAt processedAt updatedAt cancelledAt customer {{ id }} "
                f"totalPriceSet {{ {_MONEY} }} discountCodes")


def _document(name: str, root: str, fields: str, sort: str, count: str | None) -> str:
    args = f"first: $first, after: $after, query: $query, sortKey: {sort}"
    counted = f" {count}(query: $query) {{ count precision }}" if count else ""
    return (f"query {name}($first: Int!, $after: String, $query: String!) {{ "
            f"{root}({args}) {{ {_PAGE} nodes {{ {fields} }} }}{counted} }}")


CHECKOUTS = _document("CartbridgeCheckouts", "abandonedCheckouts", CHECKOUT_FIELDS, "ID", None)
CHECKOUTS_COUNTED = _document("CartbridgeCheckouts", "abandonedCheckouts", CHECKOUT_FIELDS, "ID",
                              "abandonedCheckoutsCount")
ORDERS = _document("CartbridgeOrders", "orders", ORDER_FIELDS, "UPDATED_AT", None)
ORDERS_COUNTED = _document("CartbridgeOrders", "orders", ORDER_FIELDS, "UPDATED_AT", "ordersCount")
# /<shop id>/checkouts/<token>/recover: exactly one segment between "checkouts" and "recover".
CHECKOUT_TOKEN = re.compile(r"/checkouts/([^/?#]+)/recover(?:$|[?#])")
CART_TOKEN = re.compile(r"/checkouts/ac/([^/?#]+)/recover(?:$|[?#])")
MARKETING = {"SUBSCRIBED": True, "NOT_SUBSCRIBED": False, "UNSUBSCRIBED": False}


def updated_since(since: datetime) -> str:
    """The search term: ``updated_at:>='2026-11-20T10:00:00Z'`` (second precision, rounded down)."""
    if since.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return f"updated_at:>='{since.astimezone(UTC).replace(microsecond=0).isoformat().replace('+00:00', 'Z')}'"


# --- one checkout node -> a checkouts/update body -------------------------------------------------

def checkout_token(url: Any) -> str | None:
    match = CHECKOUT_TOKEN.search(url) if isinstance(url, str) else None
    return match[1] if match and match[1] != "ac" else None


def cart_token_of(url: Any) -> str | None:
    """The cart token of checkout extensibility's ``/checkouts/ac/<cart token>/recover``."""
    match = CART_TOKEN.search(url) if isinstance(url, str) else None
    return match[1] if match else None


def checkout_payload(node: dict) -> dict | None:
    """The ``checkouts/update`` body for one ``AbandonedCheckout`` node; None without a token."""
    url = node.get("abandonedCheckoutUrl")
    token, cart_token = checkout_token(url), cart_token_of(url)
    if token is None and cart_token is None:
        return None
    customer = node.get("customer") or {}
    email = (customer.get("defaultEmailAddress") or {})
    phone = (customer.get("defaultPhoneNumber") or {}).get("phoneNumber")
    total = _money(node.get("totalPriceSet"))
    body = {"id": _number(node.get("id")), "token": token or f"cart:{cart_token}", "cart_token": cart_token,
            "email": email.get("emailAddress"), "phone": phone,
            "customer": _customer(customer, email.get("emailAddress"), phone) if customer else None,
            "billing_address": _address(node.get("billingAddress")),
            "shipping_address": _address(node.get("shippingAddress")),
            "line_items": [_line(line) for line in _nodes(node.get("lineItems"))],
            "presentment_currency": total.get("currencyCode"),
            "subtotal_price": _money(node.get("subtotalPriceSet")).get("amount"), "total_price": total.get("amount"),
            "abandoned_checkout_url": node.get("abandonedCheckoutUrl"), "customer_locale": customer.get("locale"),
            "created_at": node.get("createdAt"), "updated_at": node.get("updatedAt"),
            "completed_at": node.get("completedAt")}
    accepts = MARKETING.get(email.get("marketingState"))
    if accepts is not None:     # the customer's own consent; unknown (PENDING, INVALID) stays unsaid
        body["buyer_accepts_marketing"] = accepts
    return body


def _customer(customer: dict, email: str | None, phone: str | None) -> dict:
    return {"id": _number(customer.get("id")), "first_name": customer.get("firstName"), "email": email,
            "phone": phone}


def _address(address: Any) -> dict | None:
    if not isinstance(address, dict):
        return None
    return {"first_name": address.get("firstName"), "country_code": address.get("countryCodeV2")}


def _line(line: dict) -> dict:
    return {"title": line.get("title"), "variant_title": line.get("variantTitle"), "quantity": line.get("quantity"),
            "price": _money(line.get("originalUnitPriceSet")).get("amount"), "sku": line.get("sku"),
            "product_id": _number((line.get("product") or {}).get("id")),
            "variant_id": _number((line.get("variant") or {}).get("id")),
            "image_url": (line.get("image") or {}).get("url")}


# --- one order node -> an orders/create body ------------------------------------------------------

def order_payload(node: dict) -> dict:
    total = _money(node.get("totalPriceSet"))
    customer = node.get("customer") or {}
    return {"id": _number(node.get("id")), "name": node.get("name"), "email": node.get("email"),
            "created_at": node.get("createdAt"), "processed_at": node.get("processedAt"),
            "updated_at": node.get("updatedAt"), "cancelled_at": node.get("cancelledAt"),
            "checkout_token": None, "cart_token": None,
            "customer": {"id": _number(customer.get("id"))} if customer else None,
            "total_price_set": {"presentment_money": {"amount": total.get("amount"),
                                                      "currency_code": total.get("currencyCode")}},
            "presentment_currency": total.get("currencyCode"),
            "discount_codes": [{"code": code} for code in node.get("discountCodes") or [] if isinstance(code, str)]}


# --- a page of either -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncKind:
    """How one ``changes`` kind is read: documents, cost, connection and count fields, mapping."""
    topic: str
    root: str
    count: str
    first: int
    cost: float
    documents: tuple[str, str]              # (later pages, first page with the count)
    payload: Callable[[dict], dict | None]

    def variables(self, since: datetime, cursor: str | None) -> dict:
        return {"first": self.first, "after": cursor, "query": updated_since(since)}

    def document(self, cursor: str | None) -> str:
        return self.documents[cursor is None]

    def read(self, data: dict) -> StoreResult:
        """DONE with a ChangePage: this page's records oldest first, the next cursor, the count."""
        connection = data.get(self.root) or {}
        items, skipped = [], 0
        for node in _nodes(connection):
            payload = self.payload(node)
            if payload is None:
                skipped += 1
                log.info("shopify record without a usable key skipped", extra={
                    "platform": "shopify", "code": "shopify_sync_skipped", "reason": node.get("id")})
                continue
            items.append(SyncItem(self.topic, payload, f"{self.topic}:{payload['id']}:{payload['updated_at']}",
                                  _moment(payload.get("updated_at"))))
        items.sort(key=lambda item: _moment(item.payload.get("updated_at")))
        page = connection.get("pageInfo") or {}
        cursor = page.get("endCursor") if page.get("hasNextPage") else None
        return StoreResult(CallOutcome.DONE, data=ChangePage(tuple(items), cursor, _total(data.get(self.count)),
                                                             skipped))


KINDS: dict[str, SyncKind] = {
    "checkouts": SyncKind("checkouts/update", "abandonedCheckouts", "abandonedCheckoutsCount", CHECKOUTS_FIRST,
                          CHECKOUTS_COST, (CHECKOUTS, CHECKOUTS_COUNTED), checkout_payload),
    "orders": SyncKind("orders/create", "orders", "ordersCount", ORDERS_FIRST, ORDERS_COST,
                       (ORDERS, ORDERS_COUNTED), order_payload),
}


# --- small helpers --------------------------------------------------------------------------------

def _nodes(connection: Any) -> list[dict]:
    nodes = connection.get("nodes") if isinstance(connection, dict) else None
    return [node for node in nodes or [] if isinstance(node, dict)]


def _money(price_set: Any) -> dict:
    money = price_set.get("presentmentMoney") if isinstance(price_set, dict) else None
    return money if isinstance(money, dict) else {}


def _number(gid: Any) -> int | str | None:
    """The numeric id webhooks carry, from a GID (``gid://shopify/Customer/42`` -> 42)."""
    tail = gid.rpartition("/")[2] if isinstance(gid, str) else None
    return int(tail) if tail and tail.isdigit() else tail or None


def _total(count: Any) -> int | None:
    if isinstance(count, dict) and count.get("precision") == "EXACT" and isinstance(count.get("count"), int):
        return count["count"]
    return None


def _moment(text: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
