"""WooCommerce: does this contact have another order still open? REST v3 ``GET orders``.

``status=pending,on-hold,processing`` are the orders still waiting for money or for shipping
(https://woocommerce.com/document/managing-orders/order-statuses/). ``exclude`` keeps the
contact's own carts out: a WooCommerce cart that reached checkout IS a pending order.
``search`` is core's fuzzy LIKE '%term%' over the billing email, names and addresses, so
"anna@example.com" also finds "hanna@example.com": every order is checked again here on its
billing email, and a page full of near misses is followed by the next (up to ``MAX_PAGES``).
https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders

``WooCommerceStore.find_open_order`` passes its ``_call`` (auth, transport and error mapping);
this module builds the requests and reads the answers.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, Callable, Mapping, Sequence

import requests
from woocommerce import API

from connectors.base import CallOutcome, StoreResult

OPEN_STATUSES = ("pending", "on-hold", "processing")
PER_PAGE, MAX_PAGES = 10, 3
Read = Callable[[Any], StoreResult]
Call = Callable[[Callable[[API], requests.Response], CallOutcome, Mapping[str, CallOutcome], Read], StoreResult]


def find_open_order(call: Call, email: str, exclude_ids: Sequence[str]) -> StoreResult:
    """DONE with ``#<number>`` of the newest open order billed to ``email``; ABSENT when none."""
    wanted = email.strip().lower()
    if not wanted:
        return StoreResult(CallOutcome.ABSENT, error="no email to look for", calls=0)
    excluded = sorted({str(i) for i in exclude_ids if str(i).isdigit()}, key=int)   # order ids are numbers
    calls = 0
    for page in range(1, MAX_PAGES + 1):
        params = {"search": wanted, "status": ",".join(OPEN_STATUSES), "per_page": str(PER_PAGE), "page": str(page),
                  "orderby": "date", "order": "desc"}
        if excluded:
            params["exclude"] = ",".join(excluded)
        sizes: list[int] = []
        # A read is always safe to repeat: an unanswered one is RETRY, never UNKNOWN.
        result = call(partial(_get_orders, params), CallOutcome.RETRY, {},
                      partial(_first_open, wanted, frozenset(excluded), sizes))
        calls += result.calls
        if result.outcome != CallOutcome.ABSENT or not sizes or sizes[0] < PER_PAGE:
            return replace(result, calls=calls)
    return StoreResult(CallOutcome.ABSENT, calls=calls)


def _get_orders(params: dict[str, str], api: API) -> requests.Response:
    return api.get("orders", params=params, allow_redirects=False)


def _first_open(wanted: str, excluded: frozenset[str], sizes: list[int], payload: Any) -> StoreResult:
    if not isinstance(payload, list):
        return StoreResult(CallOutcome.REFUSED, error="WooCommerce answered without an order list "
                           "(is the REST API reachable at this URL?)")
    sizes.append(len(payload))
    for order in payload:
        if isinstance(order, dict) and _is_theirs_and_open(order, wanted, excluded):
            return StoreResult(CallOutcome.DONE, platform_id=f"#{order.get('number') or order.get('id')}")
    return StoreResult(CallOutcome.ABSENT)


def _is_theirs_and_open(order: dict[str, Any], wanted: str, excluded: frozenset[str]) -> bool:
    billing = order.get("billing") if isinstance(order.get("billing"), dict) else {}
    return (str(billing.get("email") or "").strip().lower() == wanted
            and str(order.get("id")) not in excluded                  # even if ``exclude`` was ignored
            and order.get("status") in OPEN_STATUSES)
