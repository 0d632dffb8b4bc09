"""A local WooCommerce REST API (coupons and the order list, ``wc/v3``) for integration tests.

One server is one WordPress site with WooCommerce: its home URL is ``url``; start one server per
store. It serves ``POST|GET /wp-json/wc/v3/coupons`` and ``GET|DELETE /wp-json/wc/v3/coupons/<id>``
the way core does (``WC_REST_Coupons_Controller`` and ``WC_REST_CRUD_Controller``): coupon objects
shaped as documented, codes lower-cased and unique among published coupons, ``date_expires`` read
like ``WC_Data::set_date_prop`` (a string without an offset is in the site's timezone; there is no
setter for ``date_expires_gmt``, so core ignores it on write), errors as
``{"code", "message", "data": {"status"}}``. https://woocommerce.github.io/woocommerce-rest-api-docs/#coupons

``GET /wp-json/wc/v3/orders`` lists orders made with ``add_order`` as ``WC_REST_Orders_Controller``
does: ``status`` (a comma list of order statuses, or ``any``), ``exclude`` (ids), ``search`` (core's
fuzzy LIKE '%term%' over the billing email and the billing and shipping names), ``per_page``
(1-100) and ``page``, newest first. https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders

Authentication is plain-http OAuth 1.0a as ``WC_REST_Authentication`` checks it: the signature over
the normalized base string (method, home URL + path, every ``$_GET`` parameter but the signature,
sorted, RFC 3986-encoded twice), HMAC-SHA1/256 keyed with ``consumer_secret&``, a timestamp within
15 minutes and a nonce not seen for that key (core remembers one nonce per timestamp). Failures are
401 ``woocommerce_rest_authentication_error`` with core's messages and nothing is executed. Then
the key's permissions (``read`` keys may not POST/DELETE) and its user's capability
(``can_manage=False``: ``woocommerce_rest_cannot_create`` / ``_cannot_delete``, 403).
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-rest-authentication.php

Scripted faults play in order, one per request: ``fail_next(status, retry_after)`` answers without
executing; ``delay_next(seconds)`` executes, then answers too late; ``drop_next()`` executes, then
closes without answering. Records: ``coupons``, ``coupon(code)``, ``seen`` and ``count(operation)``
(create, find, get, delete, orders; failed and dropped requests included).
"""
from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

COLLECTION = re.compile(r"^/wp-json/wc/v3/coupons/?$")
ITEM = re.compile(r"^/wp-json/wc/v3/coupons/(?P<id>\d+)/?$")
ORDERS = re.compile(r"^/wp-json/wc/v3/orders/?$")
# wc_get_order_statuses() without the "wc-" prefix; the status parameter also takes any and trash.
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
                  "checkout-draft")
NONCE_WINDOW = 15 * 60
OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")
FAULTS = {429: ("rest_too_many_requests", "Too many requests."),
          500: ("internal_server_error", "There has been a critical error on this website."),
          502: ("bad_gateway", "Bad Gateway"), 503: ("service_unavailable", "Service Unavailable"),
          504: ("gateway_timeout", "Gateway Timeout")}
# The request arguments WordPress validates against the coupon schema before the controller runs.
# (The date fields are declared "date-time", not a JSON type, so WordPress checks nothing there.)
SCHEMA_TYPES = {"code": str, "amount": str, "description": str, "discount_type": str, "minimum_amount": str, "maximum_amount": str, "usage_limit": int,
                "usage_limit_per_user": int, "limit_usage_to_x_items": int, "individual_use": bool,
                "free_shipping": bool, "exclude_sale_items": bool, "email_restrictions": list, "meta_data": list}
from tests.servers._local import Fault, Handler, LocalServer


class WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data


@dataclass(frozen=True)
class ApiKey:
    consumer_key: str
    consumer_secret: str
    permissions: str = "read_write"      # read | write | read_write, as WooCommerce stores it
    can_manage: bool = True              # the key's user may manage coupons (manage_woocommerce)


@dataclass(frozen=True)
class Seen:
    operation: str          # create | find | get | delete | other
    status: int | None      # what was answered; None when the connection was dropped
    nonce: str | None


class WooCommerceTestServer(LocalServer):
    """``with WooCommerceTestServer() as shop: key = shop.add_key()``; the store URL is ``shop.url``."""

    METHODS = ("GET", "POST", "PUT", "DELETE")

    def __init__(self, host: str = "127.0.0.1", utc_offset: timedelta = timedelta(0),
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(host)
        self._tz, self._clock = timezone(utc_offset), clock
        self._keys: dict[str, ApiKey] = {}
        self._nonces: dict[str, dict[int, str]] = collections.defaultdict(dict)
        self._coupons: dict[int, dict[str, Any]] = {}
        self._orders: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(700)
        self._seen: list[Seen] = []

    # ``url`` (LocalServer) is the site's home URL: signatures are checked against it
    # (as WooCommerce's ``get_home_url()``).

    # -- set-up --------------------------------------------------------------------------
    def add_key(self, permissions: str = "read_write", can_manage: bool = True) -> ApiKey:
        key = ApiKey(f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}", permissions, can_manage)
        with self._lock:
            self._keys[key.consumer_key] = key
        return key

    def add_coupon(self, code: str, **fields: Any) -> dict[str, Any]:
        """A coupon made in the admin (not through the API): a merchant's own, or an earlier one."""
        with self._lock:
            return _view(self._save({"code": code, **fields}), self._tz)

    def add_order(self, status: str = "processing", email: str = "", first_name: str = "", last_name: str = "",
                  **fields: Any) -> dict[str, Any]:
        """An order placed in the store (a cart that reached checkout is a ``pending`` one), as
        ``GET orders`` shows it; ``fields`` override the rest (``id``, ``number``, ``shipping``...)."""
        if status not in ORDER_STATUSES:
            raise ValueError(f"not a WooCommerce order status: {status}")
        with self._lock:
            order_id = int(fields.pop("id", 0)) or next(self._ids)
            created = datetime.fromtimestamp(int(self._clock()), UTC)
            order = {"id": order_id, "number": str(order_id), "status": status, "currency": "UAH",
                     "date_created": created.astimezone(self._tz).replace(tzinfo=None).isoformat(),
                     "date_created_gmt": created.replace(tzinfo=None).isoformat(), "total": "0.00",
                     "customer_id": 0, "billing": {"first_name": first_name, "last_name": last_name, "email": email},
                     "shipping": {"first_name": first_name, "last_name": last_name}, "line_items": [], **fields}
            self._orders[order_id] = order
            return json.loads(json.dumps(order))

    # -- scripted faults -----------------------------------------------------------------
    def fail_next(self, status: int, retry_after: float | None = None) -> None:
        """Answer the next request with ``status`` without executing it."""
        if status < 400:
            raise ValueError("fail_next is for error statuses")
        self._push(Fault(status=status, retry_after=retry_after))

    def delay_next(self, seconds: float) -> None:
        """Execute the next request, then wait before answering."""
        self._push(Fault(delay=seconds))

    def drop_next(self) -> None:
        """Execute the next request, then close the connection without any answer."""
        self._push(Fault(drop=True))

    # -- records -------------------------------------------------------------------------
    @property
    def coupons(self) -> list[dict[str, Any]]:
        """Every stored coupon (trashed ones too), as ``GET /coupons/<id>`` shows it."""
        with self._lock:
            return [_view(coupon, self._tz) for coupon in self._coupons.values()]

    def coupon(self, code: str) -> dict[str, Any] | None:
        return next((c for c in self.coupons if c["code"] == code.lower()), None)

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def count(self, operation: str) -> int:
        return sum(1 for request in self.seen if request.operation == operation)

    # -- request handling ----------------------------------------------------------------
    def _handle(self, rq: Handler) -> None:
        parts = urlsplit(rq.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))   # PHP's $_GET: the last duplicate wins
        raw = rq.rfile.read(int(rq.headers.get("Content-Length") or 0))
        operation, route = _route(rq.command, parts.path)
        with self._lock:
            fault = self._next_fault() or Fault()
        try:
            if fault.status:
                code, message = FAULTS.get(fault.status, ("http_error", f"HTTP {fault.status}"))
                raise WooError(fault.status, code, message)
            with self._lock:
                key = self._authenticate(rq.command, parts.path, query)
                status, payload = route(self, key, query, raw, parts.path)
        except WooError as err:
            status = err.status
            payload = {"code": err.code, "message": err.message, "data": {"status": err.status, **err.data}}
            fault = Fault(retry_after=fault.retry_after)          # a failure is answered at once
        self._record(operation, None if fault.drop else status, query.get("oauth_nonce"))
        if fault.drop:
            rq.close_connection = True      # the server closes the socket, nothing written
            return
        self._pause(fault)
        _respond(rq, status, payload, fault.retry_after)

    def _record(self, operation: str, status: int | None, nonce: str | None) -> None:
        with self._lock:
            self._seen.append(Seen(operation, status, nonce))

    def _authenticate(self, method: str, path: str, query: dict[str, str]) -> ApiKey | None:
        """``WC_REST_Authentication::perform_oauth_authentication`` then ``check_permissions``."""
        present = [name for name in OAUTH_PARAMS if query.get(name)]
        if not present:
            return None                     # not OAuth: an anonymous request (Basic auth needs https)
        missing = [name for name in OAUTH_PARAMS if name not in present]
        if missing:
            raise WooError(401, "woocommerce_rest_authentication_missing_parameter",
                           f"Missing OAuth parameter{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        key = self._keys.get(query["oauth_consumer_key"])
        if key is None:
            raise _auth_error("Consumer key is invalid.")
        _check_signature(key, method, self.url + "/" + path.lstrip("/"), query)
        self._check_timestamp_and_nonce(key, query["oauth_timestamp"], query["oauth_nonce"])
        needed = "read" if method in ("GET", "HEAD") else "write"
        if needed not in key.permissions:
            raise _auth_error(f"The API key provided does not have {needed} permissions.")
        return key

    def _check_timestamp_and_nonce(self, key: ApiKey, timestamp: str, nonce: str) -> None:
        now = int(self._clock())
        moment = int(timestamp) if timestamp.isdigit() else -1
        if not now - NONCE_WINDOW <= moment <= now + NONCE_WINDOW:
            raise _auth_error("Invalid timestamp.")
        used = self._nonces[key.consumer_key]
        if nonce in used.values():
            raise _auth_error("Invalid nonce - nonce has already been used.")
        used[moment] = nonce                # keyed by timestamp, as core's $used_nonces[$timestamp]
        for stale in [t for t in used if t < now - NONCE_WINDOW]:
            del used[stale]

    # -- the coupons controller (called under the lock) ----------------------------------
    def _create(self, key: ApiKey | None, query: dict, raw: bytes, path: str) -> tuple[int, Any]:
        body = _json_object(raw)
        if "code" not in body:
            raise WooError(400, "rest_missing_callback_param", "Missing parameter(s): code", params=["code"])
        _validate(body)
        _require(key, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
        if body.get("id"):
            raise WooError(400, "woocommerce_rest_shop_coupon_exists", "Cannot create existing shop_coupon.")
        if not body["code"].strip():
            raise WooError(400, "woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.")
        if self._published_id(body["code"]):
            raise WooError(400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
        return 201, _view(self._save(body), self._tz)

    def _find(self, key: ApiKey | None, query: dict, raw: bytes, path: str) -> tuple[int, Any]:
        _require(key, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        if query.get("code"):
            ids = [self._published_id(query["code"])]      # wc_get_coupon_id_by_code(); 0 finds nothing
        else:
            ids = [i for i, c in self._coupons.items() if c["status"] != "trash"]
        per_page, page = _positive(query, "per_page", 10), _positive(query, "page", 1)
        found = sorted((i for i in ids if i in self._coupons), reverse=True)
        return 200, [_view(self._coupons[i], self._tz) for i in found[(page - 1) * per_page:page * per_page]]

    def _get(self, key: ApiKey | None, query: dict, raw: bytes, path: str) -> tuple[int, Any]:
        coupon = self._coupons.get(_item_id(path))
        if coupon is None:                  # the permission check passes for a missing object
            raise WooError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
        _require(key, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
        return 200, _view(coupon, self._tz)

    def _delete(self, key: ApiKey | None, query: dict, raw: bytes, path: str) -> tuple[int, Any]:
        coupon_id = _item_id(path)
        coupon = self._coupons.get(coupon_id)
        if coupon is None:
            raise WooError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
        _require(key, "woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
        if query.get("force", "").lower() in ("1", "true"):
            return 200, _view(self._coupons.pop(coupon_id), self._tz)
        if coupon["status"] == "trash":
            raise WooError(410, "woocommerce_rest_already_trashed", "The coupon has already been deleted.")
        coupon["status"] = "trash"
        return 200, _view(coupon, self._tz)

    # -- the orders controller: the list only (called under the lock) ---------------------
    def _list_orders(self, key: ApiKey | None, query: dict, raw: bytes, path: str) -> tuple[int, Any]:
        statuses = _listed(query, "status", lambda v: v in ("any", "trash", *ORDER_STATUSES),
                           "is not one of any, trash, " + ", ".join(ORDER_STATUSES)) or ["any"]
        excluded = {int(i) for i in _listed(query, "exclude", str.isdigit, "is not of type integer.")}
        per_page, page = _positive(query, "per_page", 10), _positive(query, "page", 1)
        if per_page > 100:
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): per_page",
                           params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"})
        _require(key, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        term = query.get("search", "").strip().lower()
        found = [o for o in self._orders.values() if o["id"] not in excluded
                 and (o["status"] in statuses or ("any" in statuses and o["status"] != "trash"))
                 and (not term or any(term in text.lower() for text in _searched(o)))]
        found.sort(key=lambda o: (o["date_created_gmt"], o["id"]), reverse=True)
        return 200, json.loads(json.dumps(found[(page - 1) * per_page:page * per_page]))

    def _published_id(self, code: str) -> int:
        wanted = code.strip().lower()
        return next((i for i, c in self._coupons.items() if c["code"] == wanted and c["status"] == "publish"), 0)

    def _save(self, body: dict[str, Any]) -> dict[str, Any]:
        now = int(self._clock())
        coupon = {"id": next(self._ids), "code": body["code"].strip().lower(), "status": "publish",
                  "created": now, "expires": _expiry(body.get("date_expires"), self._tz),
                  "amount": _amount(body.get("amount", "0")), "usage_count": 0, "used_by": [],
                  **{name: body.get(name, default) for name, default in (
                      ("discount_type", "fixed_cart"), ("description", ""), ("usage_limit", None),
                      ("usage_limit_per_user", None), ("limit_usage_to_x_items", None),
                      ("minimum_amount", "0"), ("maximum_amount", "0"))},
                  **{name: body.get(name) in (True, 1, "1", "true")      # rest_sanitize_boolean()
                     for name in ("individual_use", "free_shipping", "exclude_sale_items")},
                  "email_restrictions": _emails(body.get("email_restrictions") or []),
                  "meta_data": [{"id": next(self._ids), "key": m["key"], "value": m.get("value")}
                                for m in body.get("meta_data") or []]}
        self._coupons[coupon["id"]] = coupon
        return coupon


def _not_found(server, key, query, raw, path):
    raise WooError(404, "rest_no_route", "No route was found matching the URL and request method.")


# (method, route) -> (operation name for the records, controller method)
ROUTES: dict[tuple[str, str], tuple[str, Callable]] = {
    ("POST", "collection"): ("create", WooCommerceTestServer._create),
    ("GET", "collection"): ("find", WooCommerceTestServer._find),
    ("GET", "item"): ("get", WooCommerceTestServer._get),
    ("DELETE", "item"): ("delete", WooCommerceTestServer._delete),
    ("GET", "orders"): ("orders", WooCommerceTestServer._list_orders),
}


def _route(method: str, path: str) -> tuple[str, Callable]:
    kind = ("collection" if COLLECTION.match(path) else "item" if ITEM.match(path)
            else "orders" if ORDERS.match(path) else None)
    return ROUTES.get((method, kind), ("other", _not_found))


def _item_id(path: str) -> int:
    return int(ITEM.match(path)["id"])


# -- OAuth 1.0a as WC_REST_Authentication::check_oauth_signature ------------------------------

def _rawurlencode(value: str) -> str:
    return quote(value, safe="-_.~")       # PHP rawurlencode(): RFC 3986, '~' kept


def _check_signature(key: ApiKey, method: str, home_url_with_path: str, query: dict[str, str]) -> None:
    params = {name: value for name, value in query.items() if name != "oauth_signature"}
    normalized = [(_rawurlencode(name), _rawurlencode(value))
                  for name, value in sorted(params.items(), key=lambda kv: kv[0].encode())]   # uksort strcmp
    joined = "%26".join(_rawurlencode(f"{name}={value}") for name, value in normalized)
    base = f"{method}&{_rawurlencode(home_url_with_path)}&{joined}"
    algorithm = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}.get(params["oauth_signature_method"])
    if algorithm is None:
        raise _auth_error("Invalid signature - signature method is invalid.")
    expected = base64.b64encode(hmac.new(f"{key.consumer_secret}&".encode(), base.encode(), algorithm).digest())
    provided = unquote(query["oauth_signature"].replace(" ", "+"))
    if not hmac.compare_digest(expected, provided.encode()):
        raise _auth_error("Invalid signature - provided signature does not match.")


def _auth_error(message: str) -> WooError:
    return WooError(401, "woocommerce_rest_authentication_error", message)


def _require(key: ApiKey | None, code: str, message: str) -> None:
    """A permission_callback: anonymous -> 401, an authenticated user without the capability -> 403."""
    if key is None:
        raise WooError(401, code, message)
    if not key.can_manage:
        raise WooError(403, code, message)


# -- request bodies and coupon objects ----------------------------------------------------

def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(body, dict):
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def _validate(body: dict[str, Any]) -> None:
    """``rest_validate_value_from_schema`` for the fields we know (strings are strict since WP 5.5)."""
    problems = {}
    for name, expected in SCHEMA_TYPES.items():
        value = body.get(name)
        if value is None:
            continue
        if expected is int and not (isinstance(value, int) and not isinstance(value, bool)
                                    or isinstance(value, str) and value.lstrip("-").isdigit()):
            problems[name] = f"{name} is not of type integer."
        elif expected is bool and not (isinstance(value, bool) or value in ("true", "false", "1", "0", 1, 0, "")):
            problems[name] = f"{name} is not of type boolean."
        elif expected in (str, list) and not isinstance(value, expected):
            problems[name] = f"{name} is not of type {'string' if expected is str else 'array'}."
    if isinstance(body.get("discount_type"), str) and body["discount_type"] not in DISCOUNT_TYPES:
        problems["discount_type"] = f"discount_type is not one of {', '.join(DISCOUNT_TYPES)}."
    if any(not isinstance(m, dict) or not isinstance(m.get("key"), str) for m in body.get("meta_data") or []):
        problems["meta_data"] = "meta_data[0] is not of type object."
    if problems:
        raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {', '.join(problems)}", params=problems)


def _positive(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: f"{name} is invalid."})
    return int(value)


def _listed(query: dict[str, str], name: str, valid: Callable[[str], bool], problem: str) -> list[str]:
    """An array argument given as a comma list (``wp_parse_list``), each item checked as WordPress does."""
    items = [item.strip() for item in query.get(name, "").split(",") if item.strip()]
    bad = next((i for i, item in enumerate(items) if not valid(item)), None)
    if bad is not None:
        raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}",
                       params={name: f"{name}[{bad}] {problem}"})
    return items


def _searched(order: dict[str, Any]) -> list[str]:
    """The fields core's order search LIKEs: billing email and names, shipping names."""
    billing, shipping = order.get("billing") or {}, order.get("shipping") or {}
    return [str(value or "") for value in (billing.get("email"), billing.get("first_name"), billing.get("last_name"),
                                           shipping.get("first_name"), shipping.get("last_name"))]


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)                   # wc_format_decimal() of a non-number; set_amount() makes it 0


def _amount(value: str) -> Decimal:
    amount = _decimal(value)
    if amount < 0:
        raise WooError(400, "coupon_invalid_amount", "Invalid discount amount.")
    return amount


def _emails(emails: list) -> list[str]:
    cleaned = [str(email).strip().lower() for email in emails if str(email).strip()]
    if any(not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email) for email in cleaned):
        raise WooError(400, "coupon_invalid_email_address", "Invalid email address restriction.")
    return cleaned


def _expiry(value: Any, site_tz: timezone) -> int | None:
    """``WC_Data::set_date_prop``: a timestamp is UTC; a string without an offset is site time."""
    if not value:
        return None
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    text = str(value).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WooError(400, "woocommerce_rest_invalid_date", "Invalid date.") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=site_tz)).timestamp())


def _view(coupon: dict[str, Any], site_tz: timezone) -> dict[str, Any]:
    """``get_formatted_item_data``: decimals with 2 places, dates local and GMT, 0 limits as null."""
    def dates(name: str, stamp: int | None) -> dict[str, str | None]:
        local = datetime.fromtimestamp(stamp, site_tz).replace(tzinfo=None).isoformat() if stamp else None
        gmt = datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None).isoformat() if stamp else None
        return {name: local, f"{name}_gmt": gmt}

    money = {name: f"{_decimal(coupon[name]):.2f}" for name in ("amount", "minimum_amount", "maximum_amount")}
    return {"id": coupon["id"], "code": coupon["code"], "amount": money["amount"], "status": coupon["status"],
            **dates("date_created", coupon["created"]), **dates("date_modified", coupon["created"]),
            "discount_type": coupon["discount_type"], "description": coupon["description"],
            **dates("date_expires", coupon["expires"]), "usage_count": coupon["usage_count"],
            "individual_use": bool(coupon["individual_use"]), "product_ids": [], "excluded_product_ids": [],
            **{name: int(coupon[name]) or None if coupon[name] is not None else None
               for name in ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items")},
            "free_shipping": bool(coupon["free_shipping"]), "product_categories": [],
            "excluded_product_categories": [], "exclude_sale_items": bool(coupon["exclude_sale_items"]),
            "minimum_amount": money["minimum_amount"], "maximum_amount": money["maximum_amount"],
            "email_restrictions": list(coupon["email_restrictions"]), "used_by": list(coupon["used_by"]),
            "meta_data": [dict(meta) for meta in coupon["meta_data"]]}


def _respond(rq: Handler, status: int, payload: Any, retry_after: float | None = None) -> None:
    body = json.dumps(payload).encode()
    rq.close_connection = True
    try:
        rq.send_response(status)
        rq.send_header("Content-Type", "application/json; charset=UTF-8")
        if retry_after is not None:
            rq.send_header("Retry-After", f"{retry_after:g}")
        rq.send_header("Content-Length", str(len(body)))
        rq.send_header("Connection", "close")
        rq.end_headers()
        rq.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass                                # the client stopped waiting (delay_next)
