"""Rendering helpers shared by every admin page: the layout's context, links that keep the
embedded query (shop, host), redirects after a successful form, and notices.

Notices travel as a short code in the query string, never as text (embedded pages have
no cookie for Flask's flash messages, and a text parameter would let a link put words
in our mouth).
"""
from __future__ import annotations

from flask import g, redirect, render_template, url_for

from admin_ui import blueprint
from admin_ui.access import csrf_token, runtime

NOTICES = {
    "saved": "Saved.",
    "sent": "Test message sent.",
    "added": "Opt-out added.",
    "removed": "Opt-out removed.",
    "reset": "Template reset to the default.",
}   # page modules add their own (admin_ui.connect_woocommerce, admin_ui.connection)
NAV = (("dashboard", "admin.dashboard", "Dashboard"), ("carts", "admin.carts", "Carts"),
       ("sequence", "admin.sequence", "Sequence"), ("templates", "admin.templates", "Templates"),
       ("optouts", "admin.optouts", "Opt-outs"), ("settings", "admin.settings", "Settings"))


def admin_url(endpoint: str, **values) -> str:
    """``url_for`` plus, when embedded, the shop/host/embedded query Shopify's admin gave us."""
    current = g.get("viewer")
    if current is not None and current.embedded:
        values = {**current.query, **values}
    return url_for(endpoint, **values)


def redirect_to(endpoint: str, notice: str | None = None, **values):
    """A 303 to another admin page. Embedded, it carries the request's own session token
    (still valid: they live a minute) so the next page needs no round trip through
    Shopify's token-refresh page."""
    from flask import request
    if notice is not None:
        values["notice"] = notice
    current = g.get("viewer")
    if current is not None and current.embedded and request.args.get("id_token"):
        values["id_token"] = request.args["id_token"]
    return redirect(admin_url(endpoint, **values), code=303)


def render_page(template: str, *, shop=None, active: str | None = None, status: int = 200, **context):
    from flask import request
    settings = runtime().settings
    context.update(shop=shop, active=active, nav=NAV if shop is not None else (), viewer=g.get("viewer"),
                   notice=NOTICES.get(request.args.get("notice", "")),
                   shopify_api_key=settings.shopify_api_key)
    return render_template(template, **context), status


@blueprint.app_template_global("admin_url")
def _admin_url_global(endpoint: str, **values) -> str:
    return admin_url(endpoint, **values)


@blueprint.app_template_global("csrf_token")
def _csrf_token_global() -> str:
    return csrf_token()
