"""The HTTP edge for signed platform webhooks: verify, store raw, answer 200 fast.

Order of work, per ARCHITECTURE.md: read the raw bytes (size-capped) -> pick the
connector and the shop -> verify the signature on the raw bytes -> store in the inbox
(unique on the delivery's identity) -> 200. No network call and no processing happen
in the request: the worker does that from the inbox.
"""
from __future__ import annotations

import hashlib
import logging

from flask import Blueprint, abort, current_app, request
from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop
from bridge.model import Envelope, UnprocessableDelivery
from bridge.services.inbox import store_delivery
from connectors.registry import get_connector

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@blueprint.post("/shopify")
def shopify():
    domain = (request.headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    return _receive("shopify", domain, lambda shop, runtime: runtime.settings.shopify_secrets)


@blueprint.post("/woocommerce/<int:shop_id>")
def woocommerce(shop_id: int):
    return _receive("woocommerce", str(shop_id), _shop_webhook_secrets)


def _shop_webhook_secrets(shop: Shop, runtime) -> tuple[str, ...]:
    return tuple(s for s in (runtime.box.open(shop.webhook_secret_enc),
                             runtime.box.open(shop.webhook_secret_previous_enc)) if s)


def _receive(platform: str, shop_key: str, secrets_for):
    runtime = current_app.extensions["cartbridge"]
    raw = _read_capped(runtime.settings.max_webhook_bytes)
    connector = get_connector(platform)
    if connector.handshake(request.headers, raw):
        return _answer(200, "handshake", platform)
    with unit_of_work(runtime.sessions) as session:
        shop = _find_shop(session, platform, shop_key)
        if shop is None:
            return _answer(401, "unknown_shop", platform)
        verification = connector.verify(request.headers, raw, secrets_for(shop, runtime))
        if not verification.ok:
            return _answer(verification.status, verification.code, platform, shop.id)
        envelope, reason = _envelope(connector, platform, shop_key, raw)
        stored = store_delivery(session, shop.id, envelope, raw, runtime.now(), dead_reason=reason)
    return _answer(200, "stored" if stored else "duplicate", platform, shop.id)


def _envelope(connector, platform: str, shop_key: str, raw: bytes) -> tuple[Envelope, str | None]:
    """A verified delivery we cannot identify (no topic header) is kept as a dead letter."""
    try:
        return connector.read_envelope(shop_key, request.headers, raw), None
    except UnprocessableDelivery as exc:
        key = "sha256:" + hashlib.sha256(raw).hexdigest()
        return Envelope(platform, shop_key, "(unidentified)", key), exc.reason


def _find_shop(session, platform: str, shop_key: str) -> Shop | None:
    if platform == "woocommerce":
        shop = session.get(Shop, int(shop_key))
        return shop if shop is not None and shop.platform == platform else None
    return session.scalars(select(Shop).where(Shop.platform == platform, Shop.domain == shop_key)).first()


def _read_capped(cap: int) -> bytes:
    if request.content_length is not None and request.content_length > cap:
        abort(413)
    raw = request.stream.read(cap + 1)
    if len(raw) > cap:  # chunked bodies carry no Content-Length
        abort(413)
    return raw


def _answer(status: int, code: str, platform: str, shop_id: int | None = None):
    log.info("webhook %s", code, extra={"code": code, "platform": platform, "shop_id": shop_id,
                                        "status": status})
    return {"status": code}, status
