"""WooCommerce's store API: coupons, the open-order check, webhook subscriptions
(``connectors.woocommerce_webhooks``) and reconciliation (``connectors.woocommerce_sync``) over the
REST API v3, and checkout links.

Every call goes through the official ``woocommerce`` client (Basic auth over https, OAuth 1.0a
query signing over http). It never raises for HTTP or platform trouble: each failure becomes a
``StoreResult`` whose outcome says what the core may do next. Nothing here logs or returns a
URL: over http the OAuth consumer key and signature travel in the query string.
Coupons: https://woocommerce.github.io/woocommerce-rest-api-docs/#coupons
"""
from __future__ import annotations

import email.utils
import logging
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions
from woocommerce import API

from bridge.discounts import DiscountKind, DiscountSpec
from bridge.model import LineItem
from connectors import woocommerce_sync, woocommerce_webhooks
from connectors._woocommerce_open_orders import find_open_order
from connectors.base import CallOutcome, PlatformHttp, StoreCredentials, StoreResult, TokenSet

log = logging.getLogger(__name__)
MARKER_KEY = "_cartbridge"      # coupon meta that marks a coupon as ours (cleanup, support)
NO_REFRESH = "WooCommerce REST keys do not expire; reconnect the store"
WRITE_CODES = frozenset({"woocommerce_rest_cannot_create", "woocommerce_rest_cannot_delete",
                         "woocommerce_rest_cannot_edit"})
WRITE_ADVICE = "the WooCommerce API key lacks write permission (reconnect with Read/Write access)"
# 401 messages of WC_REST_Authentication that are not about a wrong or revoked key.
REFUSAL_ADVICE = (("write permission", WRITE_ADVICE),
                  ("invalid timestamp", "WooCommerce rejected the request time (check this server's clock)"))

# kind -> the coupon's discount fields. FREE_SHIPPING is a zero-amount cart coupon granting free
# shipping: WooCommerce applies it only where the shop's Free shipping method accepts a coupon.
KIND_FIELDS: dict[DiscountKind, Callable[[DiscountSpec], dict[str, Any]]] = {
    DiscountKind.PERCENTAGE: lambda s: {"discount_type": "percent", "amount": _decimal(s.value)},
    DiscountKind.FIXED_AMOUNT: lambda s: {"discount_type": "fixed_cart", "amount": _decimal(s.value)},
    DiscountKind.FREE_SHIPPING: lambda s: {"discount_type": "fixed_cart", "amount": "0", "free_shipping": True},
}


def coupon_body(spec: DiscountSpec) -> dict[str, Any]:
    """The ``POST coupons`` body: single use, for this customer's email, expiring, ours.

    The expiry goes in ``date_expires`` with an explicit UTC offset. Core only calls
    ``WC_Coupon::set_<field>``, and there is no ``set_date_expires_gmt``: ``date_expires_gmt``
    alone is silently dropped (a code that never expires), and ``date_expires`` without an
    offset is read in the site's timezone (``WC_Data::set_date_prop``). ``date_expires_gmt`` is
    sent too, as documented, in case a release starts honouring it: both name the same instant.
    WooCommerce has no start date and amounts are in the shop's one currency.
    https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/rest-api/Controllers/Version2/class-wc-rest-coupons-v2-controller.php
    """
    expires = spec.ends_at.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat()
    body = {"code": spec.code, **KIND_FIELDS[spec.kind](spec), "description": spec.title,
            "date_expires": f"{expires}+00:00", "date_expires_gmt": expires,
            "usage_limit": 1, "usage_limit_per_user": 1, "individual_use": True,
            "meta_data": [{"key": MARKER_KEY, "value": spec.reference}]}
    if spec.customer_email:
        body["email_restrictions"] = [spec.customer_email]
    if spec.minimum_subtotal is not None:
        body["minimum_amount"] = _decimal(spec.minimum_subtotal)
    return body


class WooCommerceStore:
    """One store's REST API as ``connectors.base.StoreClient``; no I/O until a method is called."""

    def __init__(self, credentials: StoreCredentials, http: PlatformHttp) -> None:
        self._credentials = credentials
        self._timeout = http.timeout

    def create_discount(self, spec: DiscountSpec) -> StoreResult:
        if spec.kind not in KIND_FIELDS:
            return StoreResult(CallOutcome.REFUSED, error=f"no WooCommerce coupon for kind {spec.kind.value}", calls=0)
        # A create that got no answer (or a 5xx: WooCommerce may have saved the coupon before
        # failing) may have happened: UNKNOWN makes the caller look the code up first.
        return self._call(lambda api: api.post("coupons", coupon_body(spec), allow_redirects=False),
                          CallOutcome.UNKNOWN, {"woocommerce_rest_coupon_code_already_exists": CallOutcome.EXISTS},
                          _created)

    def find_discount(self, code: str) -> StoreResult:
        return self._call(lambda api: api.get("coupons", params={"code": code}, allow_redirects=False),
                          CallOutcome.RETRY, {}, lambda payload: _found(payload, code))

    def delete_discount(self, platform_id: str) -> StoreResult:
        if not platform_id.isdigit():
            return StoreResult(CallOutcome.REFUSED, error="a WooCommerce coupon id is a number", calls=0)
        # force=true deletes for good: a trashed coupon would still count in the admin's lists.
        return self._call(lambda api: api.delete(f"coupons/{platform_id}", params={"force": "true"},
                                                 allow_redirects=False),
                          CallOutcome.RETRY, {"woocommerce_rest_shop_coupon_invalid_id": CallOutcome.ABSENT},
                          lambda payload: StoreResult(CallOutcome.DONE, platform_id=platform_id))

    def find_open_order(self, email: str, customer_id: str | None,
                        exclude_ids: Sequence[str] = ()) -> StoreResult:
        # By billing email, not customer id: guest orders (customer 0) count too.
        return find_open_order(self._call, email, exclude_ids)

    def list_webhooks(self) -> StoreResult:
        return woocommerce_webhooks.list_webhooks(self._call)

    def create_webhook(self, topic: str, address: str, secret: str | None) -> StoreResult:
        return woocommerce_webhooks.create_webhook(self._call, topic, address, secret)

    def enable_webhook(self, platform_id: str) -> StoreResult:
        return woocommerce_webhooks.enable_webhook(self._call, platform_id)

    def delete_webhook(self, platform_id: str) -> StoreResult:
        return woocommerce_webhooks.delete_webhook(self._call, platform_id)

    def changes(self, kind: str, since: datetime, cursor: str | None = None) -> StoreResult:
        return woocommerce_sync.changes(self._call, kind, since, cursor)

    def _call(self, send: Callable[[API], requests.Response], unsure: CallOutcome,
              known: Mapping[str, CallOutcome], read: Callable[[Any], StoreResult]) -> StoreResult:
        creds = self._credentials
        if not (creds.consumer_key and creds.consumer_secret):
            return StoreResult(CallOutcome.REFUSED, error="no WooCommerce REST API key is stored for this shop",
                               calls=0)
        if urlsplit(creds.domain).scheme.lower() not in ("http", "https"):
            return StoreResult(CallOutcome.REFUSED, error="the store URL must start with https://", calls=0)
        api = API(url=creds.domain.rstrip("/"), consumer_key=creds.consumer_key,
                  consumer_secret=creds.consumer_secret, version="wc/v3", timeout=self._timeout)
        try:
            response = send(api)
        except requests.RequestException as exc:
            result, status, reason = _no_answer(exc, unsure), None, type(exc).__name__
        else:
            payload = _json(response)
            status, reason = response.status_code, _error_code(payload) or None
            result = _answer(status, response.headers.get("Retry-After"), payload, unsure, known, read)
        if result.outcome != CallOutcome.DONE:       # ids and codes only: never the URL or a body
            log.info("woocommerce call not done", extra={
                "platform": "woocommerce", "code": f"woocommerce_{result.outcome.value}", "status_code": status,
                "reason": reason})
        return result


def _no_answer(exc: requests.RequestException, unsure: CallOutcome) -> StoreResult:
    """What a transport error means. Never str(exc): requests puts the signed URL in it."""
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return StoreResult(CallOutcome.REFUSED, error="the store URL is not a valid URL", calls=0)
    if isinstance(exc, requests.exceptions.ConnectTimeout) or _never_sent(exc):
        return StoreResult(CallOutcome.RETRY, error="could not connect to the store")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return StoreResult(unsure, error="the store did not answer in time")
    return StoreResult(unsure, error=f"the connection to the store broke ({type(exc).__name__})")


def _never_sent(exc: requests.RequestException) -> bool:
    """Refused, unresolvable or TLS-failed connections: the request never left (safe to retry)."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)          # urllib3's MaxRetryError wraps the cause
    return isinstance(exc, requests.exceptions.SSLError) or isinstance(
        reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))


def _answer(status: int, retry_after: str | None, payload: Any, unsure: CallOutcome,
            known: Mapping[str, CallOutcome], read: Callable[[Any], StoreResult]) -> StoreResult:
    code = _error_code(payload)
    message = str(payload.get("message") or "")[:400] if isinstance(payload, dict) else ""
    if status == 429:
        return StoreResult(CallOutcome.RETRY, error="throttled by the store (HTTP 429)",
                           retry_after=_retry_after(retry_after))
    if status >= 500:
        return StoreResult(unsure, error=f"the store answered HTTP {status}" + (f": {message}" if message else ""),
                           retry_after=_retry_after(retry_after))
    if code in known and status >= 400:
        return StoreResult(known[code], error=message or code)
    if status >= 400:
        return StoreResult(CallOutcome.REFUSED, error=_refusal(status, code, message))
    if status >= 300:
        return StoreResult(CallOutcome.REFUSED, error=f"the store answered with a redirect (HTTP {status}): "
                           "check the store URL (https, www)")
    return read(payload)


def _refusal(status: int, code: str, message: str) -> str:
    """WooCommerce's own words, led by what the merchant can do about them."""
    said = f"{message} ({code})" if code else (message or f"HTTP {status}")
    advice = WRITE_ADVICE if code in WRITE_CODES else next(
        (text for hint, text in REFUSAL_ADVICE if hint in message.lower()), None)
    if advice is None and status in (401, 403):
        advice = "WooCommerce refused the API key (reconnect the store)"
    return f"{advice}: {said}" if advice else f"WooCommerce answered HTTP {status}: {said}"


def _created(payload: Any) -> StoreResult:
    coupon_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(coupon_id, int) and coupon_id > 0:
        return StoreResult(CallOutcome.DONE, platform_id=str(coupon_id))
    return StoreResult(CallOutcome.UNKNOWN, error="WooCommerce answered without a coupon id")


def _found(payload: Any, code: str) -> StoreResult:
    # Codes are stored lower-cased (the woocommerce_coupon_code filter) and matched case-insensitively.
    if not isinstance(payload, list):
        return StoreResult(CallOutcome.REFUSED, error="WooCommerce answered without a coupon list "
                           "(is the REST API reachable at this URL?)")
    wanted = code.strip().lower()
    for coupon in payload:
        if isinstance(coupon, dict) and str(coupon.get("code", "")).lower() == wanted and coupon.get("id"):
            return StoreResult(CallOutcome.DONE, platform_id=str(coupon["id"]))
    return StoreResult(CallOutcome.ABSENT)


# --- tokens and links

def refresh_token(domain: str, tokens: TokenSet, app_key: str, app_secret: str,
                  http: PlatformHttp) -> TokenSet | str:
    """There is nothing to refresh: a REST key lives until the merchant revokes it."""
    return NO_REFRESH


def discount_link(domain: str, recovery_url: str | None, code: str, items: Sequence[LineItem]) -> str | None:
    """``<site>/checkout-link/?products=ID:QTY,...&coupon=CODE``: recent WooCommerce refills the
    cart, applies the coupon and opens the checkout. A variation is its own product id there.
    None when any item lacks a numeric id (the caller links the order's payment URL instead).
    https://developer.woocommerce.com/docs/best-practices/urls-and-routing/checkout-urls"""
    site = _site(domain)
    if not code or not items or site is None:
        return None
    pairs = []
    for item in items:
        product = item.variant_id or item.product_id
        if not product or not product.isdigit() or int(product) <= 0 or item.quantity < 1:
            return None
        pairs.append(f"{int(product)}:{item.quantity}")
    return f"{site}/checkout-link/?products={quote(','.join(pairs), safe=':,')}&coupon={quote(code, safe='')}"


# --- small helpers

def _site(domain: str) -> str | None:
    """The store's base URL (scheme, host, WordPress subdirectory), without userinfo or query."""
    parts = urlsplit(domain.strip() if "//" in domain else f"https://{domain.strip()}")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2].lower()}{parts.path.rstrip('/')}"


def _decimal(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_code(payload: Any) -> str:
    """WooCommerce's error code (``{"code", "message", "data": {"status"}}``), or ""."""
    return str(payload.get("code") or "") if isinstance(payload, dict) else ""


def _retry_after(header: str | None) -> float | None:
    """Retry-After in seconds, from either of its forms (delta-seconds or an HTTP date)."""
    if not header:
        return None
    try:
        return max(float(header), 0.0)
    except ValueError:
        pass
    try:
        return max(email.utils.parsedate_to_datetime(header).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None
