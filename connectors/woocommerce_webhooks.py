"""WooCommerce webhook subscriptions over the REST API v3: list, create, re-enable, delete.

``WooCommerceStore`` passes its ``_call`` (auth, transport and error mapping); this module builds
the requests and reads the answers. Core's rules that matter here
(``WC_REST_Webhooks_V1_Controller``, ``WC_Webhook``):
- A new webhook is always ``active``; WooCommerce then pings ``delivery_url`` with an unsigned
  ``webhook_id=N`` form POST, but the REST answer is 201 whether the ping got a 200 or not.
- The ``secret`` is never shown again: ours is generated and stored on our side.
- More than 5 consecutive failed deliveries switch a webhook to ``disabled``; ``PUT status=active``
  switches it back but does NOT reset the failure count: until one delivery succeeds, the next
  failure disables it again.
- ``DELETE`` needs ``force=true`` (webhooks have no trash); a missing id is 404 on DELETE and 400
  (``ID is invalid.``) on PUT, both ``woocommerce_rest_shop_webhook_invalid_id``.
https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/rest-api/Controllers/Version1/class-wc-rest-webhooks-v1-controller.php
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, Callable, Mapping

import requests
from woocommerce import API

from connectors.base import CallOutcome, StoreResult, WebhookInfo

PER_PAGE, MAX_PAGES = 100, 10
NAME_PREFIX = "cartbridge"           # "cartbridge order.updated": whose webhook it is, in the store's admin
GONE = {"woocommerce_rest_shop_webhook_invalid_id": CallOutcome.ABSENT}
Read = Callable[[Any], StoreResult]
Call = Callable[[Callable[[API], requests.Response], CallOutcome, Mapping[str, CallOutcome], Read], StoreResult]


def list_webhooks(call: Call) -> StoreResult:
    """Every webhook of the store, whatever its status or owner (callers match on address and topic)."""
    found: list[WebhookInfo] = []
    calls = 0
    for page in range(1, MAX_PAGES + 1):
        pages: list[int] = []
        result = call(partial(_get_page, page, pages), CallOutcome.RETRY, {}, partial(_read_page, found))
        calls += result.calls
        if result.outcome != CallOutcome.DONE or not pages or page >= pages[0]:
            return replace(result, calls=calls, data=tuple(found) if result.outcome == CallOutcome.DONE else None)
    return StoreResult(CallOutcome.DONE, data=tuple(found), calls=calls)


def create_webhook(call: Call, topic: str, address: str, secret: str | None) -> StoreResult:
    if not secret:
        return StoreResult(CallOutcome.REFUSED, error="a WooCommerce webhook needs our secret: without it "
                           "deliveries cannot be verified", calls=0)
    body = {"name": f"{NAME_PREFIX} {topic}", "topic": topic, "delivery_url": address, "secret": secret,
            "status": "active"}
    # No answer may still mean created (and pinged): UNKNOWN makes the caller list before retrying.
    return call(lambda api: api.post("webhooks", body, allow_redirects=False), CallOutcome.UNKNOWN, {}, _created)


def enable_webhook(call: Call, platform_id: str) -> StoreResult:
    if not platform_id.isdigit():
        return StoreResult(CallOutcome.REFUSED, error="a WooCommerce webhook id is a number", calls=0)
    return call(lambda api: api.put(f"webhooks/{platform_id}", {"status": "active"}, allow_redirects=False),
                CallOutcome.RETRY, GONE, partial(_enabled, platform_id))


def delete_webhook(call: Call, platform_id: str) -> StoreResult:
    if not platform_id.isdigit():
        return StoreResult(CallOutcome.REFUSED, error="a WooCommerce webhook id is a number", calls=0)
    return call(lambda api: api.delete(f"webhooks/{platform_id}", params={"force": "true"}, allow_redirects=False),
                CallOutcome.RETRY, GONE, lambda payload: StoreResult(CallOutcome.DONE, platform_id=platform_id))


def webhook_info(hook: Mapping[str, Any]) -> WebhookInfo | None:
    """A listed webhook in our terms; None when it lacks an id."""
    if not isinstance(hook.get("id"), int):
        return None
    status = str(hook.get("status") or "")
    return WebhookInfo(platform_id=str(hook["id"]), topic=str(hook.get("topic") or ""),
                       address=str(hook.get("delivery_url") or ""), active=status == "active", status=status)


def _get_page(page: int, pages: list[int], api: API) -> requests.Response:
    response = api.get("webhooks", params={"per_page": str(PER_PAGE), "page": str(page)}, allow_redirects=False)
    pages.append(_int_header(response, "X-WP-TotalPages") or 1)
    return response


def _read_page(found: list[WebhookInfo], payload: Any) -> StoreResult:
    if not isinstance(payload, list):
        return StoreResult(CallOutcome.REFUSED, error="WooCommerce answered without a webhook list "
                           "(is the REST API reachable at this URL?)")
    found.extend(info for hook in payload if isinstance(hook, dict) and (info := webhook_info(hook)))
    return StoreResult(CallOutcome.DONE)


def _created(payload: Any) -> StoreResult:
    info = webhook_info(payload) if isinstance(payload, dict) else None
    if info is None:
        return StoreResult(CallOutcome.UNKNOWN, error="WooCommerce answered without a webhook id")
    return StoreResult(CallOutcome.DONE, platform_id=info.platform_id, data=info)


def _enabled(platform_id: str, payload: Any) -> StoreResult:
    info = webhook_info(payload) if isinstance(payload, dict) else None
    if info is not None and not info.active:     # a plugin may filter the status back
        return StoreResult(CallOutcome.REFUSED, platform_id=platform_id,
                           error=f"WooCommerce kept the webhook {info.status or 'inactive'}")
    return StoreResult(CallOutcome.DONE, platform_id=platform_id, data=info)


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name, "")
    return int(value) if value.strip().isdigit() else None
