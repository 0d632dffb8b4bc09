"""WooCommerce connector: signature check, setup ping, envelope reading and the topic table.

The signing and delivery rules come from WooCommerce core ``includes/class-wc-webhook.php``
(https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-webhook.php).
The order normalizers live in ``connectors._woocommerce_orders``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any, Callable, Mapping, Sequence

from bridge.model import Envelope, Event, LineItem, UnprocessableDelivery, Verification
from connectors import _parse as p
from connectors import _woocommerce_orders as orders
from connectors import woocommerce_store, woocommerce_sync
from connectors.base import PlatformHttp, StoreClient, StoreCredentials, TokenSet

PLATFORM = "woocommerce"

# ``deliver_ping()`` POSTs this form body, unsigned and without X-WC-Webhook-* headers,
# when a webhook is created; anything but a 2xx makes the creation fail.
_PING_BODY = re.compile(rb"webhook_id=[0-9]+")

TOPIC_HANDLERS: dict[str, Callable[[Envelope, dict], Event]] = {
    "order.created": orders.order_by_status,
    "order.updated": orders.order_by_status,
    "order.deleted": orders.order_deleted,
}

# Ignored by rule, not by name: every ``action.<hook>`` topic (e.g.
# ``action.woocommerce_add_to_cart``, body ``{"action", "arg"}``) carries only a hook name
# and its first argument, too little for a cart; the companion plugin will cover carts.
IGNORED_TOPIC_PREFIXES = ("action.",)
IGNORED_TOPICS: frozenset[str] = frozenset()


def _signature(secret: str, raw: bytes) -> bytes:
    """base64(HMAC-SHA256(body, secret)) over the exact bytes WooCommerce sent.

    The body is PHP ``json_encode`` output (``\\/`` and ``\\uXXXX`` escapes): re-serializing
    the parsed JSON would change the bytes and break every signature.
    """
    return base64.b64encode(hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).digest())


def _delivery_key(hook: str, topic: str, raw: bytes) -> str:
    """One key per (webhook, order, modification).

    X-WC-Webhook-Delivery-ID is not unique: it is a hash of the webhook id and the current
    second, so two different changes within a second share it. WooCommerce never retries,
    but plugins and proxies do replay, and ``date_modified_gmt`` pins the exact change.
    """
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        body = None
    resource_id = p.ident(body.get("id")) if isinstance(body, dict) else None
    if resource_id is None:
        return p.raw_digest_key(raw)
    modified = p.first(p.text(body.get("date_modified_gmt")), p.text(body.get("date_modified")))
    if modified:
        return f"{hook}:{resource_id}:{modified}"
    if topic.endswith(".deleted"):  # the body is only {"id": N}; an id is deleted once
        return f"{hook}:{resource_id}:deleted"
    return p.raw_digest_key(raw)


class WooCommerceConnector:
    """The WooCommerce implementation of ``connectors.base.Connector``."""

    platform = PLATFORM
    handled_topics = frozenset(TOPIC_HANDLERS)
    ignored_topics = IGNORED_TOPICS
    ignored_topic_prefixes = IGNORED_TOPIC_PREFIXES
    sync_kinds = woocommerce_sync.KINDS
    webhook_topics = frozenset(TOPIC_HANDLERS)       # order.created, order.updated, order.deleted

    def webhook_address(self, public_url: str, shop_id: int) -> str:
        """Our endpoint for this shop (``webhooks/__init__.py``: ``/webhooks/woocommerce/<shop_id>``)."""
        return f"{public_url.rstrip('/')}/webhooks/woocommerce/{shop_id}"

    def verify(self, headers: Mapping[str, str], raw: bytes, secrets: Sequence[str]) -> Verification:
        configured = [secret for secret in secrets if secret]  # an empty key is forgeable
        if not configured:
            return Verification(ok=False, code="no_secret_configured", status=401)
        received = p.lower_headers(headers).get("x-wc-webhook-signature")
        if not received:
            return Verification(ok=False, code="missing_signature_header", status=401)
        received_bytes = received.strip().encode("utf-8")
        # Every secret is tried (no early exit) so timing does not tell which one matched.
        matches = [hmac.compare_digest(_signature(secret, raw), received_bytes)
                   for secret in configured]
        if any(matches):
            return Verification(ok=True, code="verified", status=200)
        return Verification(ok=False, code="invalid_signature", status=401)

    def handshake(self, headers: Mapping[str, str], raw: bytes) -> bool:
        """True for the unsigned creation ping: answer 200, store nothing."""
        found = p.lower_headers(headers)
        if any(name.startswith("x-wc-webhook-") for name in found):
            return False
        return _PING_BODY.fullmatch(raw) is not None

    def read_envelope(self, shop_key: str, headers: Mapping[str, str], raw: bytes) -> Envelope:
        found = p.lower_headers(headers)
        topic = p.text(found.get("x-wc-webhook-topic"))
        if topic is None:
            raise UnprocessableDelivery("missing X-WC-Webhook-Topic header")
        hook = p.text(found.get("x-wc-webhook-id"))
        extra = {name: value for name, value in (
            ("webhook_id", hook),
            ("delivery_id", p.text(found.get("x-wc-webhook-delivery-id"))),
            ("source", p.text(found.get("x-wc-webhook-source"))),
            ("resource", p.text(found.get("x-wc-webhook-resource"))),
            ("event", p.text(found.get("x-wc-webhook-event"))),
        ) if value}
        # WooCommerce sends no event timestamp header, hence triggered_at=None.
        return Envelope(platform=PLATFORM, shop_key=shop_key, topic=topic,
                        delivery_key=_delivery_key(hook or topic, topic, raw), extra=extra)

    def normalize(self, envelope: Envelope, payload: Any) -> Event | None:
        topic = envelope.topic
        if topic in IGNORED_TOPICS or topic.startswith(IGNORED_TOPIC_PREFIXES):
            return None
        handler = TOPIC_HANDLERS.get(topic)
        if handler is None:
            raise UnprocessableDelivery(f"unhandled topic: {topic}")
        return handler(envelope, p.require_object(payload, topic))

    def store_client(self, credentials: StoreCredentials, http: PlatformHttp) -> StoreClient:
        """Coupons through the REST API v3 (``connectors.woocommerce_store``)."""
        return woocommerce_store.WooCommerceStore(credentials, http)

    def discount_link(self, domain: str, recovery_url: str | None, code: str,
                      items: Sequence[LineItem]) -> str | None:
        return woocommerce_store.discount_link(domain, recovery_url, code, items)

    def refresh_token(self, domain: str, tokens: TokenSet, app_key: str, app_secret: str,
                      http: PlatformHttp) -> TokenSet | str:
        return woocommerce_store.refresh_token(domain, tokens, app_key, app_secret, http)


CONNECTOR = WooCommerceConnector()
