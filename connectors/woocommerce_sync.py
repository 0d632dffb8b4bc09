"""WooCommerce reconciliation: the orders changed since a moment, read back over the REST API v3.

``GET orders?modified_after=…&dates_are_gmt=true&orderby=modified&order=asc&status=any
&per_page=100&page=N``; the cursor is the next page number and ``X-WP-Total`` the total.
A REST order is already what the ``order.*`` webhooks carry (core builds the webhook payload from
this same endpoint), so each one becomes an ``order.updated`` item for the normal normalizer.
https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders

How the filter is read, and why the request looks the way it does
(``WC_REST_CRUD_Controller::prepare_objects_query`` -> ``WP_Date_Query``):
- ``status=any`` is every registered order status that is not excluded from search: pending,
  failed, the block checkout's ``checkout-draft`` (registered ``exclude_from_search => false``)
  and the paid ones alike; only trash is left out.
- ``modified_after`` is exclusive and WooCommerce keeps whole seconds: we ask from one second
  before ``since`` (a record seen twice is stored once, by its key).
- ``build_mysql_datetime`` converts a value WITH an offset into the site's timezone and then
  compares it with the GMT column: "…+00:00" on a UTC+3 site would skip three hours of changes.
  So the value is sent as naive GMT, with ``dates_are_gmt=true``.
https://github.com/WordPress/wordpress-develop/blob/trunk/src/wp-includes/class-wp-date-query.php
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import requests
from woocommerce import API

from connectors.base import CallOutcome, ChangePage, StoreResult, SyncItem
from connectors.woocommerce_webhooks import Call

KINDS = ("orders",)
TOPIC = "order.updated"
PER_PAGE = 100


def changes(call: Call, kind: str, since: datetime, cursor: str | None = None) -> StoreResult:
    """One page of orders modified at or after ``since``, oldest first."""
    if kind not in KINDS:
        return StoreResult(CallOutcome.REFUSED, error=f"WooCommerce has no {kind!r} to sync", calls=0)
    if since.tzinfo is None:
        raise ValueError("since must be an aware datetime")
    if cursor is not None and not (cursor.isdigit() and int(cursor) >= 1):
        return StoreResult(CallOutcome.REFUSED, error="a WooCommerce sync cursor is a page number", calls=0)
    page = int(cursor or 1)
    headers: list = []           # the answer's headers: X-WP-Total, X-WP-TotalPages
    # A read is always safe to repeat: an unanswered one is RETRY, never UNKNOWN.
    return call(partial(_get_orders, query(since, page), headers), CallOutcome.RETRY, {},
                partial(_read, page, headers))


def query(since: datetime, page: int) -> dict[str, str]:
    """The request's arguments (see the module docstring for why each looks as it does)."""
    after = (since.astimezone(UTC) - timedelta(seconds=1)).replace(microsecond=0, tzinfo=None)
    return {"modified_after": after.isoformat(), "dates_are_gmt": "true", "orderby": "modified", "order": "asc",
            "status": "any", "per_page": str(PER_PAGE), "page": str(page)}


def sync_item(order: Any) -> SyncItem | None:
    """An order as the webhook body of ``order.updated``; None when it cannot be keyed."""
    if not isinstance(order, dict):
        return None
    order_id, modified = order.get("id"), order.get("date_modified_gmt")
    if not isinstance(order_id, int) or isinstance(order_id, bool) or not isinstance(modified, str) or not modified:
        return None
    return SyncItem(topic=TOPIC, payload=order, key=f"{TOPIC}:{order_id}:{modified}",
                    updated_at=_gmt(modified))


def _get_orders(params: dict[str, str], headers: list, api: API) -> requests.Response:
    response = api.get("orders", params=params, allow_redirects=False)
    headers.append(response.headers)
    return response


def _read(page: int, headers: list, payload: Any) -> StoreResult:
    if not isinstance(payload, list):
        return StoreResult(CallOutcome.REFUSED, error="WooCommerce answered without an order list "
                           "(is the REST API reachable at this URL?)")
    items = [item for order in payload if (item := sync_item(order)) is not None]
    found = headers[-1] if headers else {}
    pages, total = _number(found.get("X-WP-TotalPages")), _number(found.get("X-WP-Total"))
    more = pages is not None and page < pages
    result = ChangePage(items=tuple(items), next_cursor=str(page + 1) if more else None, total=total,
                        skipped=len(payload) - len(items))
    return StoreResult(CallOutcome.DONE, data=result)


def _gmt(text: str) -> datetime | None:
    """``date_modified_gmt`` is naive GMT ("2026-11-23T09:58:00")."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _number(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None
