"""Connecting a WooCommerce store in one click (standalone admin users only).

The merchant types the store's URL; we send them to the store's own approval page
(``/wc-auth/v1/authorize``) with a one-time ``user_id`` (an install request's nonce).
When they approve, WooCommerce creates Read/Write keys and POSTs them to our https
callback (``webhooks.woocommerce_auth``), then sends the browser back to
``/admin/woocommerce/return``: there our webhooks are registered (a platform call, made
outside any transaction) and the merchant lands on the shop's Settings page.
https://woocommerce.github.io/woocommerce-rest-api-docs/#rest-api-keys

An embedded Shopify viewer never sees these pages (404): they connect other stores.
"""
from __future__ import annotations

import logging

from flask import abort, g, redirect, request
from sqlalchemy import select

from admin_ui import blueprint
from admin_ui.access import runtime, viewer
from admin_ui.forms import Form, form_from_request
from admin_ui.pages import NOTICES, redirect_to, render_page
from bridge.db.engine import unit_of_work
from bridge.db.tables import InstallRequest
from bridge.services.install import start_request
from bridge.services.webhook_health import check_webhooks
from connectors.registry import CONNECTORS
from connectors.woocommerce_connect import authorize_url, valid_store_url

log = logging.getLogger(__name__)
APP_NAME = "cartbridge"
# The form's redirect goes to the store, on another origin: CSP ``form-action`` governs the
# redirects of a form submission too, so this one page allows any web origin as the target.
CONNECT_FORM_ACTION = "'self' https: http:"
NOTICES.update(
    connected=f"Connected. {len(CONNECTORS['woocommerce'].webhook_topics)} webhooks registered.",
    connected_partly="Connected, but not every webhook could be registered: see Webhook health below.",
    declined="Connection declined in WooCommerce.")
URL_REASON = ("must be your WordPress site's address, such as https://shop.example.com "
              "(https: the store's keys travel over it)")


@blueprint.route("/woocommerce/connect", methods=["GET", "POST"])
def woocommerce_connect():
    _standalone_only()
    public = runtime().settings.public_url
    if request.method == "GET" or not public.startswith("https://"):
        return _page(Form({"store_url": request.form.get("store_url", "")}),
                     status=200 if request.method == "GET" else 503)
    form = form_from_request(["store_url"])
    url = valid_store_url(form.get("store_url"))
    if url is None:
        form.fail("store_url", URL_REASON if form.get("store_url").strip() else "is required")
        return _page(form, status=422)
    rt = runtime()
    with unit_of_work(rt.sessions) as db:
        nonce = start_request(db, platform="woocommerce", domain=url, user_id=viewer().user_id, now=rt.now())
    target = authorize_url(url, APP_NAME, nonce, f"{public}/admin/woocommerce/return",
                           f"{public}/webhooks/woocommerce/auth")
    log.info("woocommerce connect started", extra={"code": "woocommerce_connect_started"})
    return redirect(target, code=303)


@blueprint.route("/woocommerce/return")
def woocommerce_return():
    """Where WooCommerce sends the merchant back: register our webhooks, then show the shop."""
    _standalone_only()
    if request.args.get("success") != "1":
        log.info("woocommerce connect declined", extra={"code": "woocommerce_connect_declined"})
        return redirect_to("admin.shops", notice="declined")
    rt = runtime()
    with rt.sessions() as db:
        started = db.scalars(select(InstallRequest).where(
            InstallRequest.platform == "woocommerce",
            InstallRequest.nonce == request.args.get("user_id", ""))).first()
        mine = started is not None and started.user_id == viewer().user_id
        shop_id = started.shop_id if mine and started.used_at is not None else None
    if not mine:
        abort(404)
    if shop_id is None:
        return render_page("admin/error.html", code=400, heading="The store sent no keys", status=400,
                           message="WooCommerce did not send this connection's keys to cartbridge. "
                                   "Start the connection again.")
    health = check_webhooks(rt.sessions, rt.store_access(), CONNECTORS, rt.settings.public_url, shop_id,
                            rt.now())
    notice = "connected" if _all_registered(health) else "connected_partly"
    log.info("woocommerce connected", extra={"code": f"woocommerce_{notice}", "shop_id": shop_id})
    return redirect_to("admin.settings", notice=notice, shop_id=shop_id)


def _all_registered(health) -> bool:
    return health.error is None and health.skipped is None


def _standalone_only() -> None:
    if viewer().embedded or viewer().user_id is None:
        abort(404)


def _page(form: Form, status: int = 200):
    g.form_action = CONNECT_FORM_ACTION
    # WooCommerce posts the keys only to an https callback (WC_Auth::make_validation).
    public = runtime().settings.public_url
    return render_page("admin/connect_woocommerce.html", title="Connect a WooCommerce store", form=form,
                       status=status, needs_https=not public.startswith("https://"), public_url=public)
