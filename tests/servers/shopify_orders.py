"""Orders on the local Shopify Admin API: stored orders and the ``orders`` connection.

Filters (https://shopify.dev/docs/api/admin-graphql/latest/queries/orders): ``email``,
``customer_id``, ``name``, ``id``, ``status`` (open, closed, cancelled, not_closed),
``financial_status`` and ``fulfillment_status``, in the search syntax of ``shopify_search``.
A term on another field matches every order (Shopify ignores such terms rather than refusing
the query); a bare value searches the name and email. Matching reads each order's *search index*, a snapshot taken when the order is written
and, with ``reindex=False``, left stale on purpose: Shopify's index lags behind writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from tests.servers.shopify_search import Match, matches, parse_search

FULFILLMENT_FILTER = {"fulfilled": {"FULFILLED"}, "shipped": {"FULFILLED"}, "unfulfilled": {"UNFULFILLED"},
                      "unshipped": {"UNFULFILLED"}, "partial": {"PARTIALLY_FULFILLED"}, "scheduled": {"SCHEDULED"},
                      "on_hold": {"ON_HOLD"}, "request_declined": {"REQUEST_DECLINED"}}


@dataclass(frozen=True)
class StoredOrder:
    """One order, as the ``Order`` object shows it, plus the search index Shopify last built."""
    id: str                                 # gid://shopify/Order/<n>
    name: str                               # "#1001"
    created_at: str
    email: str | None
    customer_id: str | None                 # gid://shopify/Customer/<n>
    financial: str                          # OrderDisplayFinancialStatus
    fulfillment: str                        # OrderDisplayFulfillmentStatus
    cancelled_at: str | None = None
    closed: bool = False
    index: dict = field(default_factory=dict, compare=False)

    def reindexed(self) -> "StoredOrder":
        statuses = {"closed"} if self.closed else {"open", "not_closed"}
        if self.cancelled_at:
            statuses = (statuses - {"open"}) | {"cancelled"}
        return replace(self, index={
            "email": (self.email or "").lower(), "customer_id": _tail(self.customer_id), "id": _tail(self.id),
            "name": self.name.lower(), "statuses": statuses, "financial_status": self.financial.lower(),
            "fulfillment_status": self.fulfillment})

    def node(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "createdAt": self.created_at, "cancelledAt": self.cancelled_at,
                "closed": self.closed, "displayFinancialStatus": self.financial,
                "displayFulfillmentStatus": self.fulfillment, "email": self.email,
                "customer": {"id": self.customer_id} if self.customer_id else None}


FILTERS: dict[str, Callable[[dict, str], bool]] = {
    "email": lambda index, value: index["email"] == value.lower(),
    "customer_id": lambda index, value: index["customer_id"] == value,
    "id": lambda index, value: index["id"] == value,
    "name": lambda index, value: index["name"].lstrip("#") == value.lower().lstrip("#"),
    "status": lambda index, value: value.lower() in index["statuses"],
    "financial_status": lambda index, value: index["financial_status"] == value.lower(),
    "fulfillment_status": lambda index, value: index["fulfillment_status"] in FULFILLMENT_FILTER.get(value.lower(), ()),
}
SORT_KEYS: dict[str, Callable[[StoredOrder], Any]] = {
    "CREATED_AT": lambda o: (o.created_at, int(_tail(o.id))), "PROCESSED_AT": lambda o: (o.created_at, int(_tail(o.id))),
    "ID": lambda o: int(_tail(o.id)), "ORDER_NUMBER": lambda o: int(o.name.lstrip("#") or 0)}


def orders_connection(orders: list[StoredOrder], args: dict) -> dict:
    """The ``orders`` connection's answer (first page only: cursors are the order ids)."""
    first, last = args.get("first"), args.get("last")
    if (first is None) == (last is None):
        raise ValueError("you must provide one of first or last")
    if not 0 <= (first if first is not None else last) <= 250:
        raise ValueError("first and last must be between 0 and 250")
    tree = parse_search(args.get("query"))
    found = [o for o in orders if matches(tree, lambda term, o=o: _indexed_match(o.index, term))]
    found.sort(key=SORT_KEYS.get(args.get("sortKey") or "PROCESSED_AT", SORT_KEYS["ID"]),
               reverse=bool(args.get("reverse")))
    page = found[:first] if first is not None else found[max(len(found) - last, 0):]
    return {"nodes": [o.node() for o in page], "edges": [{"cursor": o.id, "node": o.node()} for o in page],
            "pageInfo": {"hasNextPage": first is not None and len(found) > first,
                         "hasPreviousPage": last is not None and len(found) > last,
                         "startCursor": page[0].id if page else None, "endCursor": page[-1].id if page else None}}


def _indexed_match(index: dict, term: Match) -> bool:
    if term.field is None:
        return term.value.lower() in index["email"] or term.value.lower() in index["name"]
    check = FILTERS.get(term.field)
    if check is None or term.comparator != ":":
        return True                         # a term Shopify cannot use is ignored, not refused
    return check(index, term.value)


def _tail(gid: str | None) -> str:
    return (gid or "").rpartition("/")[2]
