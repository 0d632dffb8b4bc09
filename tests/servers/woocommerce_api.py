"""A local WooCommerce REST API (coupons and the order list, ``wc/v3``) for integration tests.

One server is one WordPress site with WooCommerce: its home URL is ``url``; start one server per
store. It serves ``POST|GET /wp-json/wc/v3/coupons`` and ``GET|DELETE /wp-json/wc/v3/coupons/<id>``
the way core does (``WC_REST_Coupons_Controller`` and ``WC_REST_CRUD_Controller``): coupon objects
shaped as documented, codes lower-cased and unique among published coupons, ``date_expires`` read
like ``WC_Data::set_date_prop`` (a string without an offset is in the site's timezone; there is no
setter for ``date_expires_gmt``, so core ignores it on write), errors as
``{"code", "message", "data": {"status"}}``. https://woocommerce.github.io/woocommerce-rest-api-docs/#coupons

``GET /wp-json/wc/v3/orders`` lists orders made with ``add_order`` (changed by ``update_order``,
which bumps ``date_modified``) as ``WC_REST_Orders_Controller`` does: statuses, search, created and
modified date filters, ordering, paging and the ``X-WP-Total`` headers (``tests.servers.woocommerce_orders``).
https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders

Webhooks are ``tests.servers.woocommerce_webhooks`` (``/wp-json/wc/v3/webhooks``) and
``tests.servers.woocommerce_deliveries`` (the creation ping, ``deliver``, ``drop_deliveries``); the
app connection page ``/wc-auth/v1/authorize`` and the key callback (``approve``, ``deny``) are
``tests.servers.woocommerce_auth``. The store's own outbound POSTs go through ``resolve``
(``{"https://cartbridge.test": "http://127.0.0.1:PORT"}``), the test's stand-in for DNS and TLS
(``tests.servers.woocommerce_rest``).

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
closes without answering (REST requests only, not ``/wc-auth`` pages). Records: ``coupons``,
``coupon(code)``, ``seen`` and ``count(operation)`` (create, find, get, delete, orders, webhooks,
webhook_create, webhook_get, webhook_update, webhook_delete, authorize, access_granted; failed and
dropped requests included).
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
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from tests.servers import woocommerce_orders as orders
from tests.servers._local import Fault, Handler, LocalServer
from tests.servers.woocommerce_auth import AuthMixin
from tests.servers.woocommerce_deliveries import DeliveriesMixin
from tests.servers.woocommerce_rest import (ApiKey, Reply, WooError, as_reply, auth_error as _auth_error,
                                            json_object as _json_object, positive as _positive, require as _require,
                                            respond as _respond)
from tests.servers.woocommerce_webhooks import WebhooksMixin

ITEM = re.compile(r"^/wp-json/wc/v3/coupons/(?P<id>\d+)/?$")
# path pattern -> the route's kind in ROUTES
KINDS = ((re.compile(r"^/wp-json/wc/v3/coupons/?$"), "collection"), (ITEM, "item"),
         (re.compile(r"^/wp-json/wc/v3/orders/?$"), "orders"),
         (re.compile(r"^/wp-json/wc/v3/webhooks/?$"), "webhooks"),
         (re.compile(r"^/wp-json/wc/v3/webhooks/\d+/?$"), "webhook"))
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
__all__ = ["ApiKey", "Seen", "WooCommerceTestServer", "WooError"]


@dataclass(frozen=True)
class Seen:
    operation: str          # create | find | get | delete | other
    status: int | None      # what was answered; None when the connection was dropped
    nonce: str | None


class WooCommerceTestServer(WebhooksMixin, DeliveriesMixin, AuthMixin, LocalServer):
    """``with WooCommerceTestServer() as shop: key = shop.add_key()``; the store URL is ``shop.url``.
    ``resolve`` (also settable after start, e.g. once the app's port is known) maps origins of the
    store's outbound POSTs to local addresses."""

    METHODS = ("GET", "POST", "PUT", "DELETE")

    def __init__(self, host: str = "127.0.0.1", utc_offset: timedelta = timedelta(0),
                 clock: Callable[[], float] = time.time, resolve: Mapping[str, str] | None = None) -> None:
        super().__init__(host)
        self._tz, self._clock = timezone(utc_offset), clock
        self.resolve: dict[str, str] = dict(resolve or {})
        self._init_webhooks()
        self._init_deliveries()
        self._init_auth()
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
        ``GET orders`` shows it; ``fields`` override the rest (``id``, ``number``, ``shipping``,
        ``date_modified_gmt``...)."""
        with self._lock:
            order_id = int(fields.pop("id", 0)) or next(self._ids)
            order = orders.new_order(order_id, status, int(self._clock()), self._tz, email, first_name, last_name,
                                     fields)
            self._orders[order_id] = order
            return json.loads(json.dumps(order))

    def update_order(self, order_id: int, modified_at: datetime | None = None, **changes: Any) -> dict[str, Any]:
        """A change saved in the store: ``changes`` applied, ``date_modified`` set to now (or ``modified_at``)."""
        with self._lock:
            order = self._orders[int(order_id)]
            order.update(changes)
            orders.touch(order, int(modified_at.timestamp() if modified_at else self._clock()), self._tz)
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
        if parts.path.startswith("/wc-auth/"):
            self._auth_request(rq, parts.path, query)                  # the merchant's browser: HTML pages
            return
        operation, route = _route(rq.command, parts.path)
        with self._lock:
            fault = self._next_fault() or Fault()
        try:
            if fault.status:
                code, message = FAULTS.get(fault.status, ("http_error", f"HTTP {fault.status}"))
                raise WooError(fault.status, code, message)
            with self._lock:
                key = self._authenticate(rq.command, parts.path, query)
                reply = as_reply(route(self, key, query, raw, parts.path))
        except WooError as err:
            reply = Reply(err.status, err.body())
            fault = Fault(retry_after=fault.retry_after)          # a failure is answered at once
        if reply.after:
            reply.after()                   # core's own calls inside the request (the creation ping)
        self._record(operation, None if fault.drop else reply.status, query.get("oauth_nonce"))
        if fault.drop:
            rq.close_connection = True      # the server closes the socket, nothing written
            return
        self._pause(fault)
        _respond(rq, reply.status, reply.payload, fault.retry_after, reply.headers)

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
    def _list_orders(self, key: ApiKey | None, query: dict, raw: bytes, path: str) -> Reply:
        params = orders.list_params(query, self._tz)
        _require(key, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        page, total, pages = orders.select(self._orders.values(), params)
        return Reply(200, json.loads(json.dumps(page)), {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

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
    ("GET", "webhooks"): ("webhooks", WooCommerceTestServer._list_webhooks),
    ("POST", "webhooks"): ("webhook_create", WooCommerceTestServer._create_webhook),
    ("GET", "webhook"): ("webhook_get", WooCommerceTestServer._get_webhook),
    ("PUT", "webhook"): ("webhook_update", WooCommerceTestServer._update_webhook),
    ("POST", "webhook"): ("webhook_update", WooCommerceTestServer._update_webhook),   # EDITABLE: POST, PUT, PATCH
    ("DELETE", "webhook"): ("webhook_delete", WooCommerceTestServer._delete_webhook),
}


def _route(method: str, path: str) -> tuple[str, Callable]:
    kind = next((name for pattern, name in KINDS if pattern.match(path)), None)
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


# -- request bodies and coupon objects ----------------------------------------------------

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

