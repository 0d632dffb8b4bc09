"""WooCommerce's key callback: ``POST /webhooks/woocommerce/auth``.

When a merchant approves cartbridge on their store's ``/wc-auth/v1/authorize`` page,
WooCommerce creates a REST API key and POSTs it here as JSON (``key_id``, ``user_id``,
``consumer_key``, ``consumer_secret``, ``key_permissions``) before it sends the browser back;
anything but a 200 makes the store show an error instead.
https://woocommerce.github.io/woocommerce-rest-api-docs/#rest-api-keys
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-auth.php

The ``user_id`` is our one-time install request nonce (``bridge.services.install``): it says
which store URL the merchant typed and which admin user asked. An unknown, used or expired
nonce stores nothing. The keys are stored encrypted; nothing here logs them.
(The route cannot collide with ``/webhooks/woocommerce/<int:shop_id>``: "auth" is no int.)
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app

from bridge.db.engine import unit_of_work
from bridge.db.tables import User
from bridge.services.install import connect_woocommerce, take_request
from bridge.services.users import grant
from connectors.woocommerce_connect import read_callback
from webhooks import read_capped

log = logging.getLogger(__name__)
blueprint = Blueprint("woocommerce_auth", __name__, url_prefix="/webhooks")
MAX_CALLBACK_BYTES = 16 * 1024      # five short strings: anything bigger is not WooCommerce's


@blueprint.post("/woocommerce/auth")
def woocommerce_auth():
    runtime = current_app.extensions["cartbridge"]
    granted = read_callback(read_capped(min(MAX_CALLBACK_BYTES, runtime.settings.max_webhook_bytes)))
    if isinstance(granted, str):
        return _answer(400, "unreadable_callback")
    with unit_of_work(runtime.sessions) as db:
        started = take_request(db, platform="woocommerce", nonce=str(granted.user_id), now=runtime.now())
        if started is None:
            return _answer(400, "unknown_request")
        if granted.key_permissions != "read_write":
            # The key is spent with its request: the merchant starts again and picks Read/Write.
            return _answer(400, "key_not_read_write", "the API key needs Read/Write access")
        shop = connect_woocommerce(db, runtime.box, url=started.domain, consumer_key=granted.consumer_key,
                                   consumer_secret=granted.consumer_secret, now=runtime.now(),
                                   backfill_days=runtime.settings.backfill_days)
        started.shop_id = shop.id
        user = db.get(User, started.user_id) if started.user_id is not None else None
        if user is not None:
            grant(db, user, shop)
        shop_id = shop.id
    return _answer(200, "connected", shop_id=shop_id)


def _answer(status: int, code: str, reason: str | None = None, shop_id: int | None = None):
    log.log(logging.INFO if status == 200 else logging.WARNING, "woocommerce key callback %s", code,
            extra={"code": code, "shop_id": shop_id, "status": status})
    body = {"status": code}
    if reason:
        body["reason"] = reason
    return body, status
