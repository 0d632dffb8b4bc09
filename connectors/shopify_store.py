"""Shopify's store API: discount codes and the open-order check, webhook subscriptions and
reconciliation reads (Admin GraphQL; documents and readers in ``shopify_webhooks`` and
``shopify_sync``), token refresh, discount links.

Every call goes through Shopify's own package ``shopifyapp`` over the process's shared
httpx client, with ``max_retries=0``: the library re-sends on any 5xx, and a create that
Shopify may already have executed must never be re-sent blindly (the caller looks the
code up first). Throttling is different: Shopify guarantees a THROTTLED request (200 or
429) was not executed, so it is waited out here, within a small budget.
https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import quote, urlsplit

from shopify_app import admin_graphql_request, refresh_access_token

from bridge.discounts import DiscountKind, DiscountSpec
from bridge.model import LineItem
from connectors import shopify_sync, shopify_webhooks
from connectors._shopify_orders import (OPEN_ORDERS, OPEN_ORDERS_COST, ORDERS_FIRST, first_open_order,
                                        open_orders_search)
from connectors.base import CallOutcome, PlatformHttp, StoreCredentials, StoreResult, TokenSet

log = logging.getLogger(__name__)
MYSHOPIFY = ".myshopify.com"
MUTATION_COST, QUERY_COST = 10.0, 1.0   # documented defaults: a mutation 10 points, an object 1
MAX_TRIES = 3                           # HTTP requests per operation, throttled ones included
MAX_THROTTLE_WAIT = 10.0                # seconds one operation may spend waiting out throttling
MAX_PACE_WAIT = 2.0                     # seconds one request may wait for the bucket estimate
DEFAULT_RETRY_AFTER = 1.0

_PAYLOAD = "codeDiscountNode { id } userErrors { field code message }"
CREATE_BASIC = ("mutation CartbridgeCreateBasic($input: DiscountCodeBasicInput!) { "
                f"discountCodeBasicCreate(basicCodeDiscount: $input) {{ {_PAYLOAD} }} }}")
CREATE_FREE_SHIPPING = ("mutation CartbridgeCreateFreeShipping($input: DiscountCodeFreeShippingInput!) { "
                        f"discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {{ {_PAYLOAD} }} }}")
FIND = "query CartbridgeFind($code: String!) { codeDiscountNodeByCode(code: $code) { id } }"
DELETE = ("mutation CartbridgeDelete($id: ID!) { discountCodeDelete(id: $id) { "
          "deletedCodeDiscountId userErrors { field code message } } }")


# --- the discount input (https://shopify.dev/docs/api/admin-graphql/latest/input-objects/DiscountCodeBasicInput)

def _common_input(spec: DiscountSpec) -> dict[str, Any]:
    body = {"title": spec.title, "code": spec.code, "startsAt": _iso(spec.starts_at), "endsAt": _iso(spec.ends_at),
            "usageLimit": 1, "appliesOncePerCustomer": True, "context": _context(spec.customer_id)}
    if spec.minimum_subtotal is not None:
        body["minimumRequirement"] = {"subtotal": {"greaterThanOrEqualToSubtotal": _decimal(spec.minimum_subtotal)}}
    return body


def _context(customer_id: str | None) -> dict[str, Any]:
    # `context` replaced the deprecated `customerSelection` (same customers.add list of GIDs).
    # Shopify cannot restrict a code to an email, so without a customer id the code is open to
    # all buyers: usageLimit 1 still makes it single-use.
    # https://shopify.dev/docs/api/admin-graphql/latest/input-objects/DiscountContextInput
    if not customer_id:
        return {"all": "ALL"}
    gid = customer_id if customer_id.startswith("gid://") else f"gid://shopify/Customer/{customer_id}"
    return {"customers": {"add": [gid]}}


def _amount_off(spec: DiscountSpec, value: dict[str, Any]) -> dict[str, Any]:
    # One reminder code never stacks on the shop's other order/product discounts; free shipping may join.
    return {**_common_input(spec), "customerGets": {"value": value, "items": {"all": True}},
            "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": True}}


def _free_shipping(spec: DiscountSpec) -> dict[str, Any]:
    return {**_common_input(spec), "destination": {"all": True},
            "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": False}}


# kind -> (mutation, payload field, input); the percentage is a fraction: 10 % -> 0.1
CREATE_BY_KIND: dict[DiscountKind, tuple[str, str, Callable[[DiscountSpec], dict]]] = {
    DiscountKind.PERCENTAGE: (CREATE_BASIC, "discountCodeBasicCreate",
                              lambda s: _amount_off(s, {"percentage": float(s.value / 100)})),
    DiscountKind.FIXED_AMOUNT: (CREATE_BASIC, "discountCodeBasicCreate", lambda s: _amount_off(
        s, {"discountAmount": {"amount": _decimal(s.value), "appliesOnEachItem": False}})),
    DiscountKind.FREE_SHIPPING: (CREATE_FREE_SHIPPING, "discountCodeFreeShippingCreate", _free_shipping),
}


class ShopifyStore:
    """One shop's Admin API as ``connectors.base.StoreClient``; no I/O until a method is called."""

    def __init__(self, credentials: StoreCredentials, http: PlatformHttp) -> None:
        self._domain = _hostname(credentials.domain)
        self._token = credentials.access_token
        self._http = http

    def create_discount(self, spec: DiscountSpec) -> StoreResult:
        if spec.kind not in CREATE_BY_KIND:
            return StoreResult(CallOutcome.REFUSED, error=f"no Shopify discount for kind {spec.kind.value}", calls=0)
        document, field, build = CREATE_BY_KIND[spec.kind]
        # A create that got no answer may have happened: UNKNOWN makes the caller look it up first.
        return self._call(document, {"input": build(spec)}, MUTATION_COST, CallOutcome.UNKNOWN,
                          partial(_created, field))

    def find_discount(self, code: str) -> StoreResult:
        return self._call(FIND, {"code": code}, QUERY_COST, CallOutcome.RETRY, _found)

    def delete_discount(self, platform_id: str) -> StoreResult:
        return self._call(DELETE, {"id": platform_id}, MUTATION_COST, CallOutcome.RETRY, _deleted)

    def find_open_order(self, email: str, customer_id: str | None,
                        exclude_ids: Sequence[str] = ()) -> StoreResult:
        query = open_orders_search(email, customer_id)
        if query is None:
            return StoreResult(CallOutcome.ABSENT, error="no email or customer id to look for", calls=0)
        # A read is always safe to repeat: an unanswered one is RETRY, never UNKNOWN.
        return self._call(OPEN_ORDERS, {"first": ORDERS_FIRST, "query": query}, OPEN_ORDERS_COST, CallOutcome.RETRY,
                          partial(first_open_order, email, customer_id, tuple(exclude_ids)))

    # --- webhook subscriptions and reconciliation (issue 6) -------------------------------
    def list_webhooks(self) -> StoreResult:
        return shopify_webhooks.list_all(self._call)

    def create_webhook(self, topic: str, address: str, secret: str | None) -> StoreResult:
        """``secret`` is ignored: Shopify signs every delivery with the app's client secret."""
        enum = shopify_webhooks.TOPIC_ENUMS.get(topic)
        if enum is None:
            return StoreResult(CallOutcome.REFUSED, error=f"cannot subscribe to {topic!r} through the API", calls=0)
        # An unanswered create may have happened: UNKNOWN makes the caller list before creating again.
        return self._call(shopify_webhooks.CREATE, {"topic": enum, "uri": address}, MUTATION_COST,
                          CallOutcome.UNKNOWN, shopify_webhooks.created)

    def enable_webhook(self, platform_id: str) -> StoreResult:
        """A no-op: Shopify has no disabled subscriptions (a failing one is removed, and the
        health check creates it again), so a listed subscription is already live."""
        return StoreResult(CallOutcome.DONE, platform_id=platform_id, calls=0)

    def delete_webhook(self, platform_id: str) -> StoreResult:
        return self._call(shopify_webhooks.DELETE, {"id": platform_id}, MUTATION_COST, CallOutcome.RETRY,
                          shopify_webhooks.deleted)

    def changes(self, kind: str, since: datetime, cursor: str | None = None) -> StoreResult:
        spec = shopify_sync.KINDS.get(kind)
        if spec is None:
            return StoreResult(CallOutcome.REFUSED, error=f"Shopify has no sync kind {kind!r}", calls=0)
        return self._call(spec.document(cursor), spec.variables(since, cursor), spec.cost, CallOutcome.RETRY,
                          spec.read)

    def _call(self, document: str, variables: dict, cost: float, unsure: CallOutcome,
              read: Callable[[dict], StoreResult]) -> StoreResult:
        if not self._domain.endswith(MYSHOPIFY):
            return StoreResult(CallOutcome.REFUSED, error="not a myshopify.com domain", calls=0)
        if not self._token:
            return StoreResult(CallOutcome.AUTH, error="no access token for this shop", calls=0)
        calls, waited = 0, 0.0
        while True:
            reply = self._send(document, variables, cost)
            calls += reply.sent
            wait = _throttle_wait(reply)
            if wait is None:
                break
            if calls >= MAX_TRIES or waited + wait > MAX_THROTTLE_WAIT:
                return StoreResult(CallOutcome.RETRY, error="throttled by Shopify", retry_after=wait, calls=calls)
            log.info("shopify throttled, waiting", extra={"platform": "shopify", "code": "shopify_throttled",
                                                          "status": reply.status, "reason": f"{wait:.2f}s"})
            time.sleep(wait)
            waited += wait
        result = _failure(reply, unsure) or read(reply.payload["data"])
        return replace(result, calls=calls)

    def _send(self, document: str, variables: dict, cost: float) -> "_Reply":
        _pace(self._domain, cost)
        result = admin_graphql_request(document, shop=self._domain.removesuffix(MYSHOPIFY),
                                       access_token=self._token, api_version=self._http.api_version,
                                       variables=variables, max_retries=0, http_client=self._http.shopify)
        # The library keeps the real answer (status, body, Retry-After) in its last HTTP log only.
        res = result.http_logs[-1].res if result.http_logs else result.response
        payload = _json_object(res.body)
        _observe(self._domain, payload)
        headers = {key.lower(): value for key, value in (res.headers or {}).items()}
        return _Reply(res.status, payload, headers, 1 if result.http_logs else 0, result.log.detail)


@dataclass(frozen=True)
class _Reply:
    status: int                 # 0: no HTTP answer (connect error or read timeout)
    payload: dict
    headers: Mapping[str, str]
    sent: int                   # HTTP requests made (0 when the library refused the parameters)
    detail: str


def _throttle_wait(reply: _Reply) -> float | None:
    """Seconds until a throttled request can succeed; None when it was not throttled."""
    if reply.status == 429:
        return _seconds(reply.headers.get("retry-after"))
    if reply.status != 200 or not any(_error_code(e) == "THROTTLED" for e in _errors(reply.payload)):
        return None
    cost = (reply.payload.get("extensions") or {}).get("cost") or {}
    try:
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(missing / float(status["restoreRate"]), 0.0)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return DEFAULT_RETRY_AFTER


def _failure(reply: _Reply, unsure: CallOutcome) -> StoreResult | None:
    if reply.status == 0:
        return StoreResult(unsure, error="no answer from Shopify (connection failed or timed out)")
    if reply.status >= 500:
        retry_after = _seconds(reply.headers["retry-after"]) if "retry-after" in reply.headers else None
        return StoreResult(unsure, error=f"Shopify answered HTTP {reply.status}", retry_after=retry_after)
    if reply.status == 401:
        return StoreResult(CallOutcome.AUTH, error=_messages(reply.payload) or "access token rejected")
    if reply.status != 200 or _errors(reply.payload):   # 403, ACCESS_DENIED, a query Shopify rejects
        return StoreResult(CallOutcome.REFUSED, error=_messages(reply.payload) or reply.detail)
    if not isinstance(reply.payload.get("data"), dict):  # a garbled 200 must not read as "absent"
        return StoreResult(unsure, error="Shopify answered 200 without data")
    return None


def _created(field: str, data: dict) -> StoreResult:
    payload = data.get(field) or {}
    problems = payload.get("userErrors") or []
    if any(problem.get("code") == "TAKEN" for problem in problems):
        return StoreResult(CallOutcome.EXISTS, error=_user_errors(problems))
    if problems:
        return StoreResult(CallOutcome.REFUSED, error=_user_errors(problems))
    node_id = (payload.get("codeDiscountNode") or {}).get("id")
    if node_id:
        return StoreResult(CallOutcome.DONE, platform_id=node_id)
    return StoreResult(CallOutcome.UNKNOWN, error="Shopify answered without a discount id")


def _found(data: dict) -> StoreResult:
    node = data.get("codeDiscountNodeByCode")
    return StoreResult(CallOutcome.DONE, platform_id=node["id"]) if node else StoreResult(CallOutcome.ABSENT)


def _deleted(data: dict) -> StoreResult:
    payload = data.get("discountCodeDelete") or {}
    problems = payload.get("userErrors") or []
    # The wording is not documented; Shopify says the discount "does not exist".
    if problems and all("not exist" in (p.get("message") or "").lower() for p in problems):
        return StoreResult(CallOutcome.ABSENT, error=_user_errors(problems))
    if problems:
        return StoreResult(CallOutcome.REFUSED, error=_user_errors(problems))
    return StoreResult(CallOutcome.DONE, platform_id=payload.get("deletedCodeDiscountId"))


# --- the cost bucket: a per-shop estimate, so a busy shop waits instead of being throttled

@dataclass
class _Bucket:
    available: float
    maximum: float
    rate: float
    seen: float                 # time.monotonic() when ``available`` was true


_BUCKETS: dict[str, _Bucket] = {}
_BUCKETS_LOCK = threading.Lock()


def _observe(domain: str, payload: dict) -> None:
    status = ((payload.get("extensions") or {}).get("cost") or {}).get("throttleStatus") or {}
    try:
        bucket = _Bucket(float(status["currentlyAvailable"]), float(status["maximumAvailable"]),
                         float(status["restoreRate"]), time.monotonic())
    except (KeyError, TypeError, ValueError):
        return
    with _BUCKETS_LOCK:
        known = _BUCKETS.get(domain)
        if known is not None and known.rate > 0:
            # An answer describes the bucket before the requests still in flight were
            # charged: keep their reservations (the lower figure), or 32 threads would
            # all see room and all be throttled.
            estimate = min(known.maximum, known.available + (bucket.seen - known.seen) * known.rate)
            bucket.available = min(bucket.available, estimate)
        _BUCKETS[domain] = bucket


def _pace(domain: str, cost: float) -> None:
    """Sleep until the estimate (refilled at restoreRate since last seen) holds ``cost``, then reserve it."""
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(domain)
        if bucket is None or bucket.rate <= 0:
            return
        now = time.monotonic()
        available = min(bucket.maximum, bucket.available + (now - bucket.seen) * bucket.rate)
        wait = min(max(cost - available, 0.0) / bucket.rate, MAX_PACE_WAIT)
        bucket.available, bucket.seen = available - cost, now   # concurrent callers queue behind us
    if wait > 0:
        time.sleep(wait)


# --- tokens and links

def refresh_token(domain: str, tokens: TokenSet, app_key: str, app_secret: str,
                  http: PlatformHttp) -> TokenSet | str:
    """New tokens from the rotating refresh token, or why not (the old refresh token is spent on success).
    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens"""
    if not tokens.refresh_token:
        return "this shop's access token has no refresh token"
    past = datetime.now(UTC) - timedelta(minutes=5)   # else the library answers "still valid" and does nothing
    result = refresh_access_token(
        access_token={"shop": _hostname(domain).removesuffix(MYSHOPIFY), "refresh_token": tokens.refresh_token,
                      "expires": _iso(past), "access_mode": "offline",
                      "refresh_token_expires": _iso(tokens.refresh_token_expires_at)
                      if tokens.refresh_token_expires_at else ""},
        app_config={"client_id": app_key, "client_secret": app_secret}, http_client=http.shopify)
    granted = result.access_token
    if not result.ok or granted is None or not granted.token:
        # The library's detail ends with advice for an HTTP handler ("Respond 401 ..."): not ours.
        return f"{result.log.code}: {result.log.detail.split('. Respond')[0]}"
    return TokenSet(granted.token, _moment(granted.expires), granted.refresh_token or None,
                    _moment(granted.refresh_token_expires))


def discount_link(domain: str, recovery_url: str | None, code: str, items: Sequence[LineItem]) -> str | None:
    """``/discount/CODE?redirect=...`` on the shop's storefront: Shopify applies the code to the
    session, then redirects (the path behind Shopify's own shareable discount URLs).
    https://shopify.dev/docs/api/admin-graphql/latest/objects/DiscountShareableUrl"""
    if not code:
        return None
    if recovery_url:
        parts = urlsplit(recovery_url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        host = parts.netloc.rpartition("@")[2]          # the shop's own (maybe custom) domain, no userinfo
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    else:
        host, target = _hostname(domain), "/cart"
    if not host:
        return None
    return f"https://{host}/discount/{quote(code, safe='')}?redirect={quote(target, safe='')}"


# --- small helpers

def _hostname(domain: str) -> str:
    return urlsplit(domain if "//" in domain else f"//{domain}").netloc.lower().rpartition("@")[2]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC) if text else None
    except ValueError:
        return None


def _decimal(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _seconds(header: str | None) -> float:
    try:
        return max(float(header), 0.0) if header else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


def _json_object(body: str | None) -> dict:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _errors(payload: dict) -> list:
    errors = payload.get("errors")
    return errors if isinstance(errors, list) else ([errors] if errors else [])


def _error_code(error: Any) -> str | None:
    return ((error.get("extensions") or {}).get("code")) if isinstance(error, dict) else None


def _messages(payload: dict) -> str:
    """Shopify's own words: ``errors`` is a string (REST-style 401/403), a list, or an object."""
    errors = payload.get("errors")
    if isinstance(errors, dict):
        errors = [f"{key}: {value}" for key, value in errors.items()]
    texts = [e.get("message", "") if isinstance(e, dict) else str(e) for e in _errors({"errors": errors})]
    return "; ".join(text for text in texts if text)[:500]


def _user_errors(problems: list[dict]) -> str:
    return "; ".join(f"{'.'.join(p.get('field') or [])}: {p.get('message')}".lstrip(": ") for p in problems)[:500]
