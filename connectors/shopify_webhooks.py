"""Shopify webhook subscriptions through Admin GraphQL: list, create, delete (documents and
answer readers; ``ShopifyStore`` sends them).

Only shop-scoped subscriptions made through the API are listed: app-specific ones from
``shopify.app.toml`` are kept by Shopify and invisible here, and the compliance topics can only
live there. The endpoint is ``uri`` (``callbackUrl`` is deprecated since 2025-04).
https://shopify.dev/docs/api/admin-graphql/latest/mutations/webhookSubscriptionCreate
https://shopify.dev/changelog/consolidate-webhook-graphql-surfaces
Shopify has no disabled state: after 8 consecutive failed deliveries it removes the
subscription, so "re-enable" means "create again".
https://shopify.dev/docs/apps/build/webhooks/troubleshooting-webhooks
"""
from __future__ import annotations

from typing import Callable

from connectors.base import CallOutcome, StoreResult, WebhookInfo

# Our topic spelling (the X-Shopify-Topic header) -> the WebhookSubscriptionTopic enum.
# https://shopify.dev/docs/api/admin-graphql/latest/enums/WebhookSubscriptionTopic
TOPIC_ENUMS: dict[str, str] = {
    "checkouts/create": "CHECKOUTS_CREATE",
    "checkouts/update": "CHECKOUTS_UPDATE",
    "checkouts/delete": "CHECKOUTS_DELETE",
    "orders/create": "ORDERS_CREATE",
    "orders/paid": "ORDERS_PAID",
    "app/uninstalled": "APP_UNINSTALLED",
    "customers_email_marketing_consent/update": "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE",
}
TOPICS_BY_ENUM = {enum: topic for topic, enum in TOPIC_ENUMS.items()}
LIST_FIRST, MAX_LIST_PAGES = 50, 10
LIST_COST = 2.0 + LIST_FIRST                   # a connection 2 + first x one object
TAKEN = "already been taken"                   # "Address for this topic has already been taken"
GONE = "does not exist"                        # "Webhook subscription does not exist"
_ERRORS = "userErrors { field message }"
LIST = ("query CartbridgeWebhooks($first: Int!, $after: String) { webhookSubscriptions(first: $first, "
        "after: $after) { pageInfo { hasNextPage endCursor } nodes { id topic uri } } }")
CREATE = ("mutation CartbridgeWebhookCreate($topic: WebhookSubscriptionTopic!, $uri: String!) { "
          "webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) { "
          f"webhookSubscription {{ id }} {_ERRORS} }} }}")
DELETE = ("mutation CartbridgeWebhookDelete($id: ID!) { webhookSubscriptionDelete(id: $id) { "
          f"deletedWebhookSubscriptionId {_ERRORS} }} }}")

Call = Callable[[str, dict, float, CallOutcome, Callable[[dict], StoreResult]], StoreResult]


def list_all(call: Call) -> StoreResult:
    """Every page of subscriptions: DONE with ``data`` = tuple[WebhookInfo, ...]."""
    found: list[WebhookInfo] = []
    cursor, calls = None, 0
    for _ in range(MAX_LIST_PAGES):
        result = call(LIST, {"first": LIST_FIRST, "after": cursor}, LIST_COST, CallOutcome.RETRY, read_page)
        calls += result.calls
        if result.outcome != CallOutcome.DONE:
            return StoreResult(result.outcome, error=result.error, retry_after=result.retry_after, calls=calls)
        page, cursor = result.data
        found.extend(page)
        if cursor is None:
            break
    return StoreResult(CallOutcome.DONE, data=tuple(found), calls=calls)


def read_page(data: dict) -> StoreResult:
    """DONE with ``data`` = (this page's WebhookInfo list, next cursor or None)."""
    connection = data.get("webhookSubscriptions") or {}
    infos = [WebhookInfo(node["id"], TOPICS_BY_ENUM.get(node.get("topic"), str(node.get("topic"))),
                         str(node.get("uri") or ""))
             for node in connection.get("nodes") or [] if isinstance(node, dict) and node.get("id")]
    page = connection.get("pageInfo") or {}
    return StoreResult(CallOutcome.DONE, data=(infos, page.get("endCursor") if page.get("hasNextPage") else None))


def created(data: dict) -> StoreResult:
    payload = data.get("webhookSubscriptionCreate") or {}
    problems = payload.get("userErrors") or []
    if problems and all(TAKEN in (p.get("message") or "") for p in problems):
        return StoreResult(CallOutcome.EXISTS, error=_user_errors(problems))
    if problems:
        return StoreResult(CallOutcome.REFUSED, error=_user_errors(problems))
    node_id = (payload.get("webhookSubscription") or {}).get("id")
    if node_id:
        return StoreResult(CallOutcome.DONE, platform_id=node_id)
    return StoreResult(CallOutcome.UNKNOWN, error="Shopify answered without a subscription id")


def deleted(data: dict) -> StoreResult:
    payload = data.get("webhookSubscriptionDelete") or {}
    problems = payload.get("userErrors") or []
    if problems and all(GONE in (p.get("message") or "").lower() for p in problems):
        return StoreResult(CallOutcome.ABSENT, error=_user_errors(problems))
    if problems:
        return StoreResult(CallOutcome.REFUSED, error=_user_errors(problems))
    return StoreResult(CallOutcome.DONE, platform_id=payload.get("deletedWebhookSubscriptionId"))


def _user_errors(problems: list[dict]) -> str:
    return "; ".join(f"{'.'.join(p.get('field') or [])}: {p.get('message')}".lstrip(": ") for p in problems)[:500]
