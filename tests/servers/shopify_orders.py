"""Orders on the local Shopify Admin API: stored orders and the ``orders`` connection.

Filters (https://shopify.dev/docs/api/admin-graphql/latest/queries/orders): ``email``,
``customer_id``, ``name``, ``id``, ``status`` (open, closed, cancelled, not_closed),
``financial_status``, ``fulfillment_status`` and the times ``created_at``, ``updated_at``,
``processed_at`` (with ``:<``, ``:<=``, ``:>``, ``:>=``), in the search syntax of ``shopify_search``.
A term on another field matches every order (Shopify ignores such terms rather than refusing
the query); a bare value searches the name and email. Matching reads each order's *search
index*, a snapshot taken when the order is written and, with ``reindex=False``, left stale on
purpose: Shopify's index lags behind writes. Sorting and cursors read the order itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from tests.servers.shopify_paging import connection
from tests.servers.shopify_search import Match, matches, parse_search, time_matches

FULFILLMENT_FILTER = {"fulfilled": {"FULFILLED"}, "shipped": {"FULFILLED"}, "unfulfilled": {"UNFULFILLED"},
                      "unshipped": {"UNFULFILLED"}, "partial": {"PARTIALLY_FULFILLED"}, "scheduled": {"SCHEDULED"},
                      "on_hold": {"ON_HOLD"}, "request_declined": {"REQUEST_DECLINED"}}
TIME_FIELDS = ("created_at", "updated_at", "processed_at")


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
    updated_at: str = ""                    # "" = created_at
    processed_at: str = ""                  # "" = created_at (an import may backdate it)
    total: str = "10.00"                    # totalPriceSet.presentmentMoney
    currency: str = "USD"
    discount_codes: tuple[str, ...] = ()
    index: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("updated_at", "processed_at"):
            if not getattr(self, name):
                object.__setattr__(self, name, self.created_at)

    def reindexed(self) -> "StoredOrder":
        statuses = {"closed"} if self.closed else {"open", "not_closed"}
        if self.cancelled_at:
            statuses = (statuses - {"open"}) | {"cancelled"}
        return replace(self, index={
            "email": (self.email or "").lower(), "customer_id": _tail(self.customer_id), "id": _tail(self.id),
            "name": self.name.lower(), "statuses": statuses, "financial_status": self.financial.lower(),
            "fulfillment_status": self.fulfillment, "created_at": self.created_at, "updated_at": self.updated_at,
            "processed_at": self.processed_at})

    def node(self) -> dict[str, Any]:
        money = {"amount": self.total, "currencyCode": self.currency}
        return {"id": self.id, "name": self.name, "createdAt": self.created_at, "updatedAt": self.updated_at,
                "processedAt": self.processed_at, "cancelledAt": self.cancelled_at, "closed": self.closed,
                "displayFinancialStatus": self.financial, "displayFulfillmentStatus": self.fulfillment,
                "email": self.email, "customer": {"id": self.customer_id} if self.customer_id else None,
                "totalPriceSet": {"presentmentMoney": money, "shopMoney": money},
                "discountCodes": list(self.discount_codes)}


FILTERS: dict[str, Callable[[dict, str], bool]] = {
    "email": lambda index, value: index["email"] == value.lower(),
    "customer_id": lambda index, value: index["customer_id"] == value,
    "id": lambda index, value: index["id"] == value,
    "name": lambda index, value: index["name"].lstrip("#") == value.lower().lstrip("#"),
    "status": lambda index, value: value.lower() in index["statuses"],
    "financial_status": lambda index, value: index["financial_status"] == value.lower(),
    "fulfillment_status": lambda index, value: index["fulfillment_status"] in FULFILLMENT_FILTER.get(value.lower(), ()),
}
# https://shopify.dev/docs/api/admin-graphql/latest/enums/OrderSortKeys (the id breaks ties)
SORT_KEYS: dict[str, Callable[[StoredOrder], tuple]] = {
    "CREATED_AT": lambda o: (o.created_at, int(_tail(o.id))),
    "PROCESSED_AT": lambda o: (o.processed_at, int(_tail(o.id))),
    "UPDATED_AT": lambda o: (o.updated_at, int(_tail(o.id))),
    "ID": lambda o: (int(_tail(o.id)),),
    "ORDER_NUMBER": lambda o: (int(o.name.lstrip("#") or 0), int(_tail(o.id)))}


def orders_connection(orders: list[StoredOrder], args: dict) -> dict:
    """The ``orders`` connection's answer: filtered by ``query``, sorted, one page from the cursor."""
    tree = parse_search(args.get("query"))
    found = [o for o in orders if matches(tree, lambda term, o=o: _indexed_match(o.index, term))]
    sort_key = SORT_KEYS.get(args.get("sortKey") or "PROCESSED_AT", SORT_KEYS["ID"])
    return connection(found, sort_key, args, StoredOrder.node)


def orders_count(orders: list[StoredOrder], args: dict) -> dict:
    """``ordersCount(query, limit)``: a ``Count`` (AT_LEAST when the limit cut it short)."""
    tree = parse_search(args.get("query"))
    found = sum(1 for o in orders if matches(tree, lambda term, o=o: _indexed_match(o.index, term)))
    limit = args.get("limit")
    return {"count": limit, "precision": "AT_LEAST"} if limit is not None and found > limit else \
        {"count": found, "precision": "EXACT"}


def _indexed_match(index: dict, term: Match) -> bool:
    if term.field is None:
        return term.value.lower() in index["email"] or term.value.lower() in index["name"]
    if term.field in TIME_FIELDS:
        return time_matches(index[term.field], term)
    check = FILTERS.get(term.field)
    if check is None or term.comparator != ":":
        return True                         # a term Shopify cannot use is ignored, not refused
    return check(index, term.value)


def _tail(gid: str | None) -> str:
    return (gid or "").rpartition("/")[2]
