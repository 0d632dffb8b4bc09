"""The local store's orders: order records and ``GET /wp-json/wc/v3/orders`` as core answers it.

``WC_REST_Orders_Controller`` (v3) over ``WC_REST_CRUD_Controller::prepare_objects_query``:
``status`` (a comma list of order statuses, ``any`` = every status but trash; the block checkout's
``checkout-draft`` is registered with ``exclude_from_search => false``, so ``any`` includes it),
``exclude`` (ids), ``search`` (core's fuzzy LIKE '%term%' over the billing email and names),
``after``/``before`` (created) and ``modified_after``/``modified_before``, ``dates_are_gmt``,
``orderby`` (date|id|include|title|slug|modified; date and modified sort by the date, then the
id), ``order`` (asc|desc, default desc), ``per_page`` (1-100) and ``page``; the answer carries
``X-WP-Total`` and ``X-WP-TotalPages``.
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/rest-api/Controllers/Version3/class-wc-rest-crud-controller.php

The date filters are ``WP_Date_Query`` clauses: ``after``/``before`` are exclusive (``>``/``<``);
the value is read by ``build_mysql_datetime``: a value with an offset is converted to the SITE
timezone, one without is taken as it is, and the result is compared with ``date_modified_gmt``
when ``dates_are_gmt`` is true, else with the site-time ``date_modified``. (So "…+00:00" with
``dates_are_gmt=true`` on a UTC+3 site filters three hours off: send naive GMT with it.)
https://github.com/WordPress/wordpress-develop/blob/trunk/src/wp-includes/class-wp-date-query.php
"""
from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timezone
from typing import Any, Iterable, Mapping

from tests.servers.woocommerce_rest import invalid, listed, one_of, per_page, positive

# wc_get_order_statuses() without the "wc-" prefix; the status parameter also takes any and trash.
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                  "checkout-draft")
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
# request argument -> (order date field, True for "after")
DATE_FILTERS = {"after": ("date_created", True), "before": ("date_created", False),
                "modified_after": ("date_modified", True), "modified_before": ("date_modified", False)}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}(?::\d{2})?)?")  # rest_parse_date
BOOLEANS = {"true": True, "1": True, "false": False, "0": False, "": False}


def new_order(order_id: int, status: str, moment: int, site_tz: timezone, email: str, first_name: str,
              last_name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """An order as ``GET orders`` shows it; ``fields`` override (``date_modified_gmt`` alone is enough)."""
    if status not in (*ORDER_STATUSES, "trash"):
        raise ValueError(f"not a WooCommerce order status: {status}")
    order = {"id": order_id, "number": str(order_id), "status": status, "currency": "UAH",
             **_dates("date_created", moment, site_tz), **_dates("date_modified", moment, site_tz),
             "total": "0.00", "customer_id": 0,
             "billing": {"first_name": first_name, "last_name": last_name, "email": email},
             "shipping": {"first_name": first_name, "last_name": last_name}, "line_items": [], **fields}
    for name in ("date_created", "date_modified"):      # one moment, shown in both forms
        if f"{name}_gmt" in fields and name not in fields:
            gmt = datetime.fromisoformat(fields[f"{name}_gmt"]).replace(tzinfo=UTC)
            order.update(_dates(name, int(gmt.timestamp()), site_tz))
    return order


def touch(order: dict[str, Any], moment: int, site_tz: timezone) -> None:
    """``WC_Order::save`` of a change: ``date_modified`` becomes now (seconds, as MySQL stores it)."""
    order.update(_dates("date_modified", moment, site_tz))


def list_params(query: Mapping[str, str], site_tz: timezone) -> dict[str, Any]:
    """The request's arguments, checked as WordPress checks them before the controller runs."""
    statuses = listed(query, "status", lambda v: v in ("any", "trash", *ORDER_STATUSES),
                      "is not one of any, trash, " + ", ".join(ORDER_STATUSES)) or ["any"]
    gmt = query.get("dates_are_gmt", "false").lower()
    if gmt not in BOOLEANS:
        raise invalid("dates_are_gmt", "dates_are_gmt is not of type boolean.")
    return {"statuses": statuses, "per_page": per_page(query), "page": positive(query, "page", 1),
            "excluded": {int(i) for i in listed(query, "exclude", str.isdigit, "is not of type integer.")},
            "term": query.get("search", "").strip().lower(), "gmt": BOOLEANS[gmt],
            "orderby": one_of(query, "orderby", ORDERBY, "date"), "desc": one_of(query, "order", ("asc", "desc"),
                                                                                   "desc") == "desc",
            "dates": {name: _mysql_datetime(name, query[name], site_tz) for name in DATE_FILTERS if name in query}}


def select(orders: Iterable[dict[str, Any]], params: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int]:
    """(this page's orders, X-WP-Total, X-WP-TotalPages)."""
    found = [o for o in orders if _matches(o, params)]
    found.sort(key=_sort_key(params["orderby"]), reverse=params["desc"])
    size, page = params["per_page"], params["page"]
    return found[(page - 1) * size:page * size], len(found), math.ceil(len(found) / size)


def _matches(order: dict[str, Any], params: dict[str, Any]) -> bool:
    statuses, term = params["statuses"], params["term"]
    if order["id"] in params["excluded"]:
        return False
    if not (order["status"] in statuses or ("any" in statuses and order["status"] != "trash")):
        return False
    if term and not any(term in text.lower() for text in _searched(order)):
        return False
    suffix = "_gmt" if params["gmt"] else ""
    for name, value in params["dates"].items():
        column, after = DATE_FILTERS[name]
        stored = order.get(column + suffix) or ""
        if not (stored > value if after else stored < value):
            return False
    return True


def _sort_key(orderby: str):
    if orderby in ("date", "modified"):      # "date ID" / "modified ID": the id keeps pages stable
        column = "date_created_gmt" if orderby == "date" else "date_modified_gmt"
        return lambda o: (o.get(column) or "", o["id"])
    return lambda o: o["id"]                 # id, and the rest (not told apart here)


def _mysql_datetime(name: str, value: str, site_tz: timezone) -> str:
    """``WP_Date_Query::build_mysql_datetime``: an offset is converted to the SITE timezone."""
    if not RFC3339.fullmatch(value):
        raise invalid(name, "Invalid date.")
    moment = datetime.fromisoformat(f"{value[:10]}T{value[11:]}".replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(site_tz)
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


def _searched(order: dict[str, Any]) -> list[str]:
    """The fields core's order search LIKEs: billing email and names, shipping names."""
    billing, shipping = order.get("billing") or {}, order.get("shipping") or {}
    return [str(value or "") for value in (billing.get("email"), billing.get("first_name"), billing.get("last_name"),
                                           shipping.get("first_name"), shipping.get("last_name"))]


def _dates(name: str, moment: int, site_tz: timezone) -> dict[str, str]:
    stamp = datetime.fromtimestamp(moment, UTC)
    return {name: stamp.astimezone(site_tz).replace(tzinfo=None).isoformat(),
            f"{name}_gmt": stamp.replace(tzinfo=None).isoformat()}
