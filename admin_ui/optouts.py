"""The Opt-outs page: the contacts this shop must never remind, searchable, with the
merchant's own add and remove (the same service calls as ``cartbridge optouts``) and a
CSV export of every row.

Removing asks first (a confirmation page, no script needed, works embedded) and keeps
the row: it is shown as removed, with who lifted it and when, as evidence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Response, abort, request

from admin_ui import blueprint
from admin_ui.access import runtime, shop_for_viewer, viewer
from admin_ui.forms import Form, form_from_request
from admin_ui.pages import redirect_to, render_page
from bridge.contacts import deliverable_email, normalize_phone
from bridge.db.engine import unit_of_work
from bridge.db.tables import OptOut, Shop
from bridge.money import format_datetime_local
from bridge.services.optout_browser import STATUSES, contact_of, csv_lines, find_optouts, optout_of_shop
from bridge.services.optouts import ContactRef, opt_out, resubscribe

BY_LENGTH = 64          # opt_outs.created_by / removed_by
MAX_CONTACT = 320       # opt_outs.display
MAX_REASON = 1000
SOURCES = {"link": "Unsubscribe link", "one_click": "One-click unsubscribe", "merchant": "Added by the shop",
           "sendgrid_bounce": "SendGrid bounce", "sendgrid_dropped": "SendGrid dropped (suppressed address)",
           "sendgrid_spamreport": "SendGrid spam report", "sendgrid_unsubscribe": "SendGrid unsubscribe",
           "sendgrid_group_unsubscribe": "SendGrid group unsubscribe"}
STATUS_OPTIONS = [("active", "Active"), ("removed", "Removed"), ("all", "All")]


@dataclass(frozen=True)
class Line:
    """One opt-out as the table shows it."""
    id: int
    contact: str | None
    kind: str
    active: bool
    source: str
    reason: str | None
    added: str
    added_by: str
    removed: str | None
    removed_by: str


@blueprint.route("/shops/<int:shop_id>/optouts")
def optouts(shop_id: int):
    return _list_page(shop_id, Form())


@blueprint.route("/shops/<int:shop_id>/optouts", methods=["POST"], endpoint="optouts_add")
def optouts_add(shop_id: int):
    form = form_from_request(["contact", "reason"])
    ref = _contact(form)
    reason = form.get("reason").strip()
    if len(reason) > MAX_REASON:
        form.fail("reason", f"must be at most {MAX_REASON} characters")
    if not form.ok:
        return _list_page(shop_id, form, status=422)
    with unit_of_work(runtime().sessions) as db:
        shop = shop_for_viewer(db, shop_id)
        opt_out(db, shop.id, ref, source="merchant", now=runtime().now(), by=_by(), reason=reason or None)
    return redirect_to("admin.optouts", notice="added", shop_id=shop_id)


@blueprint.route("/shops/<int:shop_id>/optouts/remove", methods=["POST"], endpoint="optouts_remove")
def optouts_remove(shop_id: int):
    """First post: the confirmation page. Second post (``confirm``): lift the opt-out."""
    optout_id = Form.of(request.form).whole("optout_id", low=1)
    with unit_of_work(runtime().sessions) as db:
        shop = shop_for_viewer(db, shop_id)
        row = optout_of_shop(db, shop.id, optout_id) if optout_id is not None else None
        if row is None:
            abort(404)
        if request.form.get("confirm") != "yes":
            return render_page("admin/optouts.html", shop=shop, active="optouts", confirm=_line(shop, row))
        # Like ``cartbridge optouts remove``: by contact, so the same person's phone lifts too.
        resubscribe(db, shop.id, contact_of(row), by=_by(), now=runtime().now())
    return redirect_to("admin.optouts", notice="removed", shop_id=shop_id, status="all")


@blueprint.route("/shops/<int:shop_id>/optouts.csv", endpoint="optouts_csv")
def optouts_csv(shop_id: int):
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        filename = f"optouts-{_safe_name(shop.domain)}-{runtime().now():%Y-%m-%d}.csv"
    # The body is written after this view returns, so it gets the session factory itself.
    return Response(csv_lines(runtime().sessions, shop_id), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={filename}"})


def _list_page(shop_id: int, form: Form, status: int = 200):
    search = Form.of({"q": request.args.get("q", ""), "status": request.args.get("status", "active")})
    if search.get("status") not in STATUSES:
        search.values["status"] = "active"
    page = Form.of({"page": request.args.get("page", "1")}).whole("page", low=1) or 1
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        found = find_optouts(db, runtime().contacts(), shop.id, text=search.get("q")[:MAX_CONTACT],
                             status=search.get("status"), page=page)
        lines = [_line(shop, row) for row in found.rows]
    return render_page("admin/optouts.html", shop=shop, active="optouts", status=status, form=form,
                       search=search, found=found, lines=lines, status_options=STATUS_OPTIONS)


def _contact(form: Form) -> ContactRef | None:
    """Like the CLI: an email when it has an @, else a phone number."""
    text = form.get("contact").strip()
    keys = runtime().contacts()
    if not text:
        form.fail("contact", "is required")
    elif len(text) > MAX_CONTACT or not text.isprintable():
        form.fail("contact", "is not an email address or a phone number")
    elif "@" in text:
        if deliverable_email(text) is None:
            form.fail("contact", "is not an email address (name@example.com)")
        else:
            return ContactRef.of(keys, text, None)
    elif normalize_phone(text) is None:
        form.fail("contact", "is neither an email address nor a phone number")
    else:
        return ContactRef.of(keys, None, text)
    return None


def _line(shop: Shop, row: OptOut) -> Line:
    return Line(row.id, row.display, row.kind, row.active, SOURCES.get(row.source, row.source.replace("_", " ")),
                row.reason, _when(shop, row.created_at), row.created_by or "",
                _when(shop, row.removed_at) if row.removed_at else None, row.removed_by or "")


def _when(shop: Shop, moment) -> str:
    try:
        return f"{format_datetime_local(moment, 'en', shop.timezone or 'UTC')} ({shop.timezone or 'UTC'})"
    except ValueError:      # an unknown zone name: UTC is still the truth
        return f"{format_datetime_local(moment, 'en', 'UTC')} (UTC)"


def _by() -> str:
    return viewer().label[:BY_LENGTH]


def _safe_name(domain: str) -> str:
    """A WooCommerce shop's domain is its URL: keep a file name plain."""
    bare = re.sub(r"^[a-z]+://", "", domain.lower()).strip("/")
    return re.sub(r"[^a-z0-9.-]+", "-", bare) or "shop"
