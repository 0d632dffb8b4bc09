"""Webhook subscriptions on the local Shopify Admin API: ``webhookSubscriptions``,
``webhookSubscriptionCreate``, ``webhookSubscriptionDelete``.

Only shop-scoped subscriptions made through the API are listed (app-specific ones from
``shopify.app.toml`` never are); the endpoint is ``uri`` (``callbackUrl`` is deprecated).
https://shopify.dev/docs/api/admin-graphql/latest/queries/webhookSubscriptions
https://shopify.dev/docs/api/admin-graphql/latest/mutations/webhookSubscriptionCreate
https://shopify.dev/changelog/consolidate-webhook-graphql-surfaces
Shopify removes a subscription after 8 consecutive failed deliveries; ``drop_subscription``
plays that. https://shopify.dev/docs/apps/build/webhooks/troubleshooting-webhooks
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from graphql import GraphQLError

from tests.servers.shopify_paging import connection

TAKEN = "Address for this topic has already been taken"
SORT_KEYS = {"CREATED_AT": lambda s: (s.created_at, s.number), "ID": lambda s: (s.number,)}


@dataclass(frozen=True)
class StoredSubscription:
    number: int
    topic: str                              # the WebhookSubscriptionTopic enum value: ORDERS_CREATE
    uri: str
    format: str
    created_at: str
    api_version: str

    @property
    def id(self) -> str:
        return f"gid://shopify/WebhookSubscription/{self.number}"

    def node(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "uri": self.uri, "format": self.format, "filter": None,
                "includeFields": [], "metafieldNamespaces": [], "createdAt": self.created_at,
                "updatedAt": self.created_at}


def subscriptions_connection(subscriptions: list[StoredSubscription], args: dict) -> dict:
    wanted = set(args.get("topics") or ())
    found = [s for s in subscriptions if (not wanted or s.topic in wanted)
             and (args.get("uri") is None or s.uri == args["uri"])
             and (args.get("format") is None or s.format == args["format"])]
    return connection(found, SORT_KEYS[args.get("sortKey") or "CREATED_AT"], args, StoredSubscription.node)


def create_problems(existing: list[StoredSubscription], topic: str, given: dict) -> list[dict]:
    """Shopify's userErrors for a subscription it would not create."""
    uri = (given.get("uri") or "").strip()
    where = ["webhookSubscription", "uri"]
    if not uri:
        return [{"field": where, "message": "Address can't be blank"}]
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.hostname:
        return [{"field": where, "message": f"Address protocol {parts.scheme or 'none'}:// is not supported"}]
    if any(s.topic == topic and s.uri == uri for s in existing):
        return [{"field": where, "message": TAKEN}]
    return []


def topic_enum(topic: str) -> str:
    """``orders/create`` or ``ORDERS_CREATE`` -> ``ORDERS_CREATE``."""
    return topic.upper().replace("/", "_")


class WebhooksMixin:
    """``ShopifyAdminServer``'s subscription resolvers and helpers (needs ``_lock``, ``_shop``, ``_ids``)."""

    def subscriptions(self, shop: str) -> list[StoredSubscription]:
        with self._lock:
            return sorted(self._shop(shop).subscriptions.values(), key=lambda s: s.number)

    def drop_subscription(self, shop: str, topic: str) -> int:
        """Remove the shop's subscriptions to ``topic`` as Shopify does after 8 failed deliveries;
        how many were removed."""
        enum = topic_enum(topic)
        with self._lock:
            found = self._shop(shop).subscriptions
            doomed = [key for key, s in found.items() if s.topic == enum]
            for key in doomed:
                del found[key]
            return len(doomed)

    def _list_subscriptions(self, info, **args) -> dict:
        shop = info.context["shop"]
        try:
            return subscriptions_connection(list(shop.subscriptions.values()), args)
        except ValueError as problem:
            raise GraphQLError(str(problem)) from None

    def _create_subscription(self, info, topic: str, webhookSubscription: dict) -> dict:
        shop = info.context["shop"]
        problems = create_problems(list(shop.subscriptions.values()), topic, webhookSubscription)
        if problems:
            return {"webhookSubscription": None, "userErrors": problems}
        stored = StoredSubscription(next(self._ids), topic, webhookSubscription["uri"].strip(),
                                    webhookSubscription.get("format") or "JSON", _now(), info.context["version"])
        shop.subscriptions[stored.id] = stored
        return {"webhookSubscription": stored.node(), "userErrors": []}

    def _delete_subscription(self, info, id: str) -> dict:
        shop = info.context["shop"]
        if shop.subscriptions.pop(id, None) is None:
            return {"deletedWebhookSubscriptionId": None,
                    "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
