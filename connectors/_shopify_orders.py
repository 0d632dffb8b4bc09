"""Shopify: does this contact have another order still open? One Admin GraphQL ``orders`` read.

Shopify narrows the list with its search syntax (``read_orders`` scope), newest first:
the contact (``customer_id`` when known, else the quoted ``email``), not closed or cancelled,
and unpaid or not yet fulfilled. Filters: https://shopify.dev/docs/api/admin-graphql/latest/queries/orders
Syntax: https://shopify.dev/docs/api/usage/search-syntax

Every node that comes back is checked again here, because search filters are loose: the
search index lags behind writes (an order paid a moment ago may still be indexed as
pending), and a term Shopify cannot use is dropped rather than refused. The node's own
fields are the truth. ``ShopifyStore.find_open_order`` sends the document; this module
builds it and reads the answer (pure).
"""
from __future__ import annotations

import logging
import re
from typing import Any, Sequence

from connectors.base import CallOutcome, StoreResult

log = logging.getLogger(__name__)
ORDERS_FIRST = 10
# Requested cost: the connection 2 + first x (Order 1 + its Customer 1); scalars are free.
# https://shopify.dev/docs/api/usage/limits#cost-calculation
OPEN_ORDERS_COST = 2.0 + ORDERS_FIRST * 2
OPEN_ORDERS = ("query CartbridgeOpenOrders($first: Int!, $query: String!) { "
               "orders(first: $first, sortKey: CREATED_AT, reverse: true, query: $query) { nodes { "
               "id name createdAt cancelledAt closed displayFinancialStatus displayFulfillmentStatus "
               "email customer { id } } } }")
# `status:open` alone could still hold a cancelled order that was not archived: exclude both.
OPEN_TERMS = ("status:open AND -status:cancelled AND (financial_status:pending OR financial_status:authorized "
              "OR financial_status:partially_paid OR -fulfillment_status:fulfilled)")
# Waiting for the customer's money: https://shopify.dev/docs/api/admin-graphql/latest/enums/OrderDisplayFinancialStatus
UNPAID = frozenset({"PENDING", "AUTHORIZED", "PARTIALLY_PAID"})
CUSTOMER_NUMBER = re.compile(r"^(?:gid://shopify/Customer/)?(\d{1,20})$")


def open_orders_search(email: str, customer_id: str | None) -> str | None:
    """The ``query`` argument, or None when there is nobody to look for."""
    number = customer_number(customer_id)
    if number:
        who = f"customer_id:{number}"
    elif email.strip():
        who = f"email:{quoted(email.strip())}"
    else:
        return None
    return f"{who} AND {OPEN_TERMS}"


def quoted(value: str) -> str:
    """A double-quoted search value: inside the quotes only the backslash and the quote are
    special, so escaping those two keeps any text (spaces, parentheses, OR, ``:``) one value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def customer_number(customer_id: str | None) -> str | None:
    """The numeric id ``customer_id:`` takes, from a GID or a number; None for anything else
    (never pasted into the query: an odd value falls back to the quoted email)."""
    match = CUSTOMER_NUMBER.match((customer_id or "").strip())
    return match[1] if match else None


def first_open_order(email: str, customer_id: str | None, exclude_ids: Sequence[str], data: dict) -> StoreResult:
    """DONE with the newest node that is really this contact's, really open and not excluded."""
    nodes = (data.get("orders") or {}).get("nodes") or []
    for node in nodes:
        if not isinstance(node, dict) or _excluded(node, exclude_ids) or not _belongs(node, email, customer_id):
            continue
        if is_open(node):
            return StoreResult(CallOutcome.DONE, platform_id=str(node.get("name") or node.get("id")))
        # Ids and codes only: how often the index lags is worth seeing, the order's owner is not.
        log.info("shopify search returned an order that is not open", extra={
            "platform": "shopify", "code": "shopify_order_search_stale", "order_id": node.get("id")})
    return StoreResult(CallOutcome.ABSENT)


def is_open(node: dict[str, Any]) -> bool:
    """Not cancelled, not closed (archived), and either unpaid or not fully fulfilled."""
    if node.get("cancelledAt") or node.get("closed"):
        return False
    return node.get("displayFinancialStatus") in UNPAID or node.get("displayFulfillmentStatus") != "FULFILLED"


def _belongs(node: dict[str, Any], email: str, customer_id: str | None) -> bool:
    number = customer_number(customer_id)
    if number:
        return customer_number((node.get("customer") or {}).get("id")) == number
    return str(node.get("email") or "").strip().lower() == email.strip().lower()


def _excluded(node: dict[str, Any], exclude_ids: Sequence[str]) -> bool:
    gid = str(node.get("id") or "")
    names = {gid, gid.rpartition("/")[2], str(node.get("name") or "")} - {""}
    return not names.isdisjoint(exclude_ids)
