"""The HTTP edge for signed platform webhooks: verify, store raw, answer 200 fast.

Order of work, per ARCHITECTURE.md: read the raw bytes (size-capped) -> pick the
connector and the shop (cached, see webhooks.shops) -> verify the signature on the raw
bytes -> store in the inbox (unique on the delivery's identity) -> 200. No network call and no processing happen
in the request: the worker does that from the inbox.
"""
from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, request
from bridge.model import Envelope, UnprocessableDelivery
from bridge.services.inbox import store_delivery
from connectors._parse import raw_digest_key
from connectors.registry import get_connector
from webhooks.shops import ShopDirectory

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@blueprint.post("/shopify")
def shopify():
    domain = (request.headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    return _receive("shopify", domain, lambda keys, runtime: runtime.settings.shopify_secrets)


@blueprint.post("/woocommerce/<int:shop_id>")
def woocommerce(shop_id: int):
    return _receive("woocommerce", str(shop_id), lambda keys, runtime: keys.secrets)


def _receive(platform: str, shop_key: str, secrets_for):
    runtime = current_app.extensions["cartbridge"]
    raw = read_capped(runtime.settings.max_webhook_bytes)
    connector = get_connector(platform)
    if connector.handshake(request.headers, raw):
        return _answer(200, "handshake", platform)
    keys = _directory().lookup(platform, shop_key)
    if keys is None:
        return _answer(401, "unknown_shop", platform)
    verification = connector.verify(request.headers, raw, secrets_for(keys, runtime))
    if not verification.ok:
        return _answer(verification.status, verification.code, platform, keys.shop_id)
    envelope, reason = _envelope(connector, platform, shop_key, raw)
    with runtime.engine.begin() as connection:   # the write transaction holds only the INSERT
        stored = store_delivery(connection, keys.shop_id, envelope, raw, runtime.now(), dead_reason=reason)
    return _answer(200, "stored" if stored else "duplicate", platform, keys.shop_id)


def _directory() -> ShopDirectory:
    extensions = current_app.extensions
    if "cartbridge.shops" not in extensions:
        extensions["cartbridge.shops"] = ShopDirectory(extensions["cartbridge"])
    return extensions["cartbridge.shops"]


def _envelope(connector, platform: str, shop_key: str, raw: bytes) -> tuple[Envelope, str | None]:
    """A verified delivery we cannot identify (no topic header) is kept as a dead letter."""
    try:
        return connector.read_envelope(shop_key, request.headers, raw), None
    except UnprocessableDelivery as exc:
        return Envelope(platform, shop_key, "(unidentified)", raw_digest_key(raw)), exc.reason


def read_capped(cap: int) -> bytes:
    """The raw body, at most ``cap`` bytes (413 beyond), read before anything else."""
    if request.content_length is not None and request.content_length > cap:
        abort(413)
    raw = request.stream.read(cap + 1)
    if len(raw) > cap:  # chunked bodies carry no Content-Length
        abort(413)
    return raw


def _answer(status: int, code: str, platform: str, shop_id: int | None = None):
    # An accepted delivery is routine (the access log has it); refusals are worth a line.
    level = logging.DEBUG if code in ("stored", "handshake") else logging.INFO
    log.log(level, "webhook %s", code, extra={"code": code, "platform": platform, "shop_id": shop_id,
                                              "status": status})
    return {"status": code}, status
