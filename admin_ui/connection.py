"""The install and sync part of the Settings page's Connection panel, and disconnecting a
WooCommerce store.

The panel shows what install/connect and the periodic jobs record: who keeps the shop's
webhook subscriptions, when it was installed and with which scopes, the last reconciliation
(time, records, error) and the webhook health note. Disconnecting asks first (a confirmation
page, like removing an opt-out), then removes our webhooks from the store and forgets its keys.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import abort, request

from admin_ui import blueprint
from admin_ui.access import runtime, shop_for_viewer
from admin_ui.pages import NOTICES, redirect_to, render_page
from bridge.db.tables import Shop, ShopSync
from bridge.services.webhook_health import disconnect_woocommerce
from connectors.registry import CONNECTORS

log = logging.getLogger(__name__)
NOTICES.update(
    disconnected="Disconnected. The store's webhooks were removed and its keys forgotten.",
    disconnected_partly="Disconnected and its keys forgotten, but some of its webhooks could not be removed: "
                        "delete the cartbridge webhooks in WooCommerce (Settings › Advanced › Webhooks).")
MANAGED_BY = {"shopify": "Shopify, from the app configuration (shopify.app.toml)",
              "cartbridge": "cartbridge, through the platform's API", None: "not set: webhooks registered by hand"}


@dataclass(frozen=True)
class SyncPanel:
    managed_by: str
    installed_at: datetime | None
    scopes: str | None
    last_sync_at: datetime | None
    last_sync_count: int | None
    last_sync_error: str | None
    health_note: str | None
    health_note_at: datetime | None
    health_checked_at: datetime | None
    can_disconnect: bool


def sync_panel(db, shop: Shop) -> SyncPanel:
    row = db.get(ShopSync, shop.id)
    return SyncPanel(
        managed_by=MANAGED_BY.get(shop.webhooks_managed_by, shop.webhooks_managed_by or MANAGED_BY[None]),
        installed_at=shop.installed_at, scopes=shop.scopes,
        last_sync_at=row.last_sync_at if row else None, last_sync_count=row.last_sync_count if row else None,
        last_sync_error=row.last_sync_error if row else None, health_note=row.health_note if row else None,
        health_note_at=row.health_note_at if row else None,
        health_checked_at=row.health_checked_at if row else None,
        can_disconnect=connected_woocommerce(shop))


def connected_woocommerce(shop: Shop) -> bool:
    return shop.platform == "woocommerce" and shop.consumer_key_enc is not None and shop.uninstalled_at is None


@blueprint.route("/shops/<int:shop_id>/woocommerce/disconnect", methods=["POST"])
def woocommerce_disconnect(shop_id: int):
    """First post: the confirmation page. Second post (``confirm``): disconnect."""
    rt = runtime()
    with rt.sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        if not connected_woocommerce(shop):
            abort(404)
        if request.form.get("confirm") != "yes":
            return render_page("admin/disconnect.html", shop=shop, active="settings")
    # The platform calls (deleting webhooks) run outside any transaction.
    removal = disconnect_woocommerce(rt.sessions, rt.store_access(), CONNECTORS, shop_id, rt.now())
    notice = "disconnected_partly" if removal.failed else "disconnected"
    log.info("woocommerce disconnected", extra={"code": f"woocommerce_{notice}", "shop_id": shop_id})
    return redirect_to("admin.settings", notice=notice, shop_id=shop_id)
