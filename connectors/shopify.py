"""Shopify connector: webhook verification, envelope reading and the topic table.

Shopify has no "abandoned" event: a checkout is watched through ``checkouts/create|update``
and converted by ``orders/create|paid`` (or a checkout that shows ``completed_at``). The
per-topic normalizers live in ``connectors._shopify_payloads`` (carts and orders) and
``connectors._shopify_privacy`` (compliance, uninstall and consent topics).
Webhook reference: https://shopify.dev/docs/apps/build/webhooks
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from shopify_app import verify_webhook_req

from bridge.model import Envelope, Event, LineItem, UnprocessableDelivery, Verification
from connectors import _parse as p
from connectors import _shopify_payloads as payloads
from connectors import _shopify_privacy as privacy
from connectors import shopify_store, shopify_sync
from connectors.shopify_webhooks import TOPIC_ENUMS
from connectors.base import PlatformHttp, StoreClient, StoreCredentials, TokenSet

PLATFORM = "shopify"

TOPIC_HANDLERS: dict[str, Callable[[Envelope, dict], Event]] = {
    "checkouts/create": payloads.checkout,
    "checkouts/update": payloads.checkout,
    "checkouts/delete": payloads.checkout_deleted,
    "orders/create": payloads.order,
    "orders/paid": payloads.order,
    # Mandatory for App Store apps; a body naming another shop is refused (see _shopify_privacy).
    "customers/data_request": privacy.customer_data_request,
    "customers/redact": privacy.customer_redact,
    "shop/redact": privacy.shop_redact,
    "app/uninstalled": privacy.app_uninstalled,
    "customers_email_marketing_consent/update": privacy.email_consent,
}

# Acknowledged and dropped on purpose:
# - orders/updated, orders/cancelled, orders/fulfilled: conversion is already decided by
#   orders/create|paid; later order life changes nothing about the cart.
# - carts/create, carts/update: carts carry no email or phone, so nobody could be reminded;
#   the checkout topics describe the same cart once the buyer is reachable.
IGNORED_TOPICS = frozenset({
    "orders/updated", "orders/cancelled", "orders/fulfilled", "carts/create", "carts/update",
})


# The subscriptions a connected shop must have, spelled as in X-Shopify-Topic; the GraphQL
# enum of each is in ``shopify_webhooks.TOPIC_ENUMS``. The mandatory compliance topics
# (customers/data_request, customers/redact, shop/redact) cannot be subscribed through the
# API: they live only in shopify.app.toml.
# https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance
WEBHOOK_TOPICS = frozenset(TOPIC_ENUMS)


class ShopifyConnector:
    """The Shopify implementation of ``connectors.base.Connector``."""

    platform = PLATFORM
    handled_topics = frozenset(TOPIC_HANDLERS)
    ignored_topics = IGNORED_TOPICS
    sync_kinds = tuple(shopify_sync.KINDS)          # ("checkouts", "orders")
    webhook_topics = WEBHOOK_TOPICS

    def webhook_address(self, public_url: str, shop_id: int) -> str:
        """One endpoint for every shop: Shopify names the shop in X-Shopify-Shop-Domain."""
        return f"{public_url.rstrip('/')}/webhooks/shopify"

    def verify(self, headers: Mapping[str, str], raw: bytes, secrets: Sequence[str]) -> Verification:
        """Delegate to Shopify's own ``verify_webhook_req`` (constant-time, rotation aware)."""
        configured = [secret for secret in secrets if secret]  # an empty key is forgeable
        if not configured:
            return Verification(ok=False, code="no_secret_configured", status=401)
        try:
            body = raw.decode("utf-8")  # Shopify sends UTF-8 JSON; anything else is not theirs
        except UnicodeDecodeError:
            return Verification(ok=False, code="invalid_body_encoding", status=401)
        request = {"method": "POST", "headers": p.lower_headers(headers), "url": "", "body": body}
        code = "invalid_hmac"
        for index in range(0, len(configured), 2):  # the library takes a current + an old secret
            pair = configured[index:index + 2] + [None]
            config = {"client_id": "", "client_secret": pair[0], "old_client_secret": pair[1]}
            result = verify_webhook_req(request, config)
            if result.ok:
                return Verification(ok=True, code="verified", status=200)
            code = result.log.code
        # The library answers 400 for a missing header; our edge answers 401 for any bad auth.
        return Verification(ok=False, code=code, status=401)

    def handshake(self, headers: Mapping[str, str], raw: bytes) -> bool:
        """Shopify has no setup ping: every delivery is a signed event."""
        return False

    def read_envelope(self, shop_key: str, headers: Mapping[str, str], raw: bytes) -> Envelope:
        found = p.lower_headers(headers)
        topic = p.text(found.get("x-shopify-topic"))
        if topic is None:
            raise UnprocessableDelivery("missing X-Shopify-Topic header")
        # X-Shopify-Webhook-Id is the same on every retry of one delivery: the dedupe key.
        # https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates
        delivery_key = p.text(found.get("x-shopify-webhook-id")) or p.raw_digest_key(raw)
        extra = {name: value for name, value in (
            ("event_id", p.text(found.get("x-shopify-event-id"))),
            ("api_version", p.text(found.get("x-shopify-api-version"))),
        ) if value}
        return Envelope(platform=PLATFORM, shop_key=shop_key, topic=topic,
                        delivery_key=delivery_key,
                        triggered_at=p.moment(found.get("x-shopify-triggered-at")), extra=extra)

    def normalize(self, envelope: Envelope, payload: Any) -> Event | None:
        if envelope.topic in IGNORED_TOPICS:
            return None
        handler = TOPIC_HANDLERS.get(envelope.topic)
        if handler is None:
            raise UnprocessableDelivery(f"unhandled topic: {envelope.topic}")
        return handler(envelope, p.require_object(payload, envelope.topic))

    def store_client(self, credentials: StoreCredentials, http: PlatformHttp) -> StoreClient:
        """Discount codes through the Admin GraphQL API (``connectors.shopify_store``)."""
        return shopify_store.ShopifyStore(credentials, http)

    def discount_link(self, domain: str, recovery_url: str | None, code: str,
                      items: Sequence[LineItem]) -> str | None:
        return shopify_store.discount_link(domain, recovery_url, code, items)

    def refresh_token(self, domain: str, tokens: TokenSet, app_key: str, app_secret: str,
                      http: PlatformHttp) -> TokenSet | str:
        return shopify_store.refresh_token(domain, tokens, app_key, app_secret, http)


CONNECTOR = ShopifyConnector()
