"""The Settings page: sender, the shop's own SendGrid key, consent and sending manners, time
zone and language in one form, and the shop's connection status below it (read-only, see
``admin_ui.connection``; a WooCommerce store can be disconnected from there).

Values are checked by ``bridge.services.shop_settings`` (the config file's rules). The
SendGrid key is write-only: its input is always empty, even when a form comes back with
errors, and the page shows at most its last 4 characters.
"""
from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import lru_cache

from flask import request

from admin_ui import blueprint
from admin_ui.access import runtime, shop_for_viewer
from admin_ui.connection import sync_panel
from admin_ui.forms import Form, form_from_request
from admin_ui.pages import redirect_to, render_page
from bridge.db.engine import unit_of_work
from bridge.manners import ConsentPolicy
from bridge.services import shop_settings as service
from bridge.templating import SUPPORTED_LANGUAGES

LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "uk": "Українська", "bg": "Български", "kk": "Қазақша"}
CONSENT_LABELS = {ConsentPolicy.EVERYONE: "Everyone",
                  ConsentPolicy.FIRST_ONLY: "Without marketing consent: the first reminder only",
                  ConsentPolicy.REQUIRED: "Only shoppers who accepted marketing"}
WHOLE_FIELDS = ("quiet_hours_start", "quiet_hours_end", "frequency_cap_hours", "reentry_cooldown_days")
KEY, REMOVE_KEY = "sendgrid_api_key", "remove_sendgrid_api_key"
# The error summary lists problems in the order the fields appear on the page.
PAGE_ORDER = ("sender_name", "sender_email", KEY, "consent_policy", "quiet_hours_start", "quiet_hours_end",
              "frequency_cap_hours", "reentry_cooldown_days", "open_order_check", "timezone", "language")


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


@blueprint.route("/shops/<int:shop_id>/settings", methods=["GET", "POST"])
def settings(shop_id: int):
    if request.method == "POST":
        return _save(shop_id)
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        return _render(db, shop, Form.of(service.settings_of(shop)))


def _save(shop_id: int):
    # The key is read straight from the request and never put in the Form: a re-rendered
    # page must not carry it back to the browser.
    form = form_from_request([*service.FIELDS, REMOVE_KEY])
    values = _typed(form)
    key = _key_change(form, request.form.get(KEY, "").strip())
    form.errors = {name: form.errors[name] for name in PAGE_ORDER if name in form.errors}
    with unit_of_work(runtime().sessions) as db:
        shop = shop_for_viewer(db, shop_id)
        if not form.ok:
            return _render(db, shop, form, status=422)
        service.save_settings(db, runtime().box, shop, values, key)
    return redirect_to("admin.settings", notice="saved", shop_id=shop_id)


def _typed(form: Form) -> dict:
    """The form as the values ``config import`` takes; every problem recorded on the form."""
    values = {name: form.whole(name) for name in WHOLE_FIELDS}
    values.update(sender_name=form.get("sender_name").strip() or None,
                  sender_email=form.get("sender_email").strip() or None,
                  consent_policy=form.get("consent_policy"), open_order_check=form.checked("open_order_check"),
                  timezone=form.get("timezone").strip(), language=form.get("language"))
    for name, reason in service.validate_settings(values):
        form.fail(name, reason)          # after a parse error, that first reason stays
    return values


def _key_change(form: Form, typed: str):
    """KEEP, None (remove the key) or the new key; a problem is recorded on the form."""
    if typed and form.checked(REMOVE_KEY):
        form.fail(KEY, "cannot be typed and removed at once: type a new key or tick “remove”, not both")
        return service.KEEP
    if typed:
        reason = service.check_sendgrid_key(typed)
        if reason:
            form.fail(KEY, reason)
        return typed
    return None if form.checked(REMOVE_KEY) else service.KEEP


def _render(db, shop, form: Form, status: int = 200):
    rt = runtime()
    connection = service.connection_status(db, shop, rt.now())
    zone = zoneinfo.ZoneInfo(shop.timezone) if shop.timezone in zone_names() else zoneinfo.ZoneInfo("UTC")

    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else ""

    return render_page(
        "admin/settings.html", shop=shop, active="settings", status=status, form=form, connection=connection,
        sync=sync_panel(db, shop),
        when=when, zones=zone_names(), key_hint=service.key_hint(rt.box, shop, bool(rt.settings.sendgrid_api_key)),
        instance_sends_email=bool(rt.settings.sendgrid_api_key),
        languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in SUPPORTED_LANGUAGES],
        policies=[(p.value, CONSENT_LABELS[p]) for p in ConsentPolicy])
