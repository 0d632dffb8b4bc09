"""Sign in, sign out, and the landing page (the viewer's shops, or straight to the only one)."""
from __future__ import annotations

import hashlib
import logging
import math
import secrets

from flask import request, session, url_for, redirect

from admin_ui import blueprint
from admin_ui.access import runtime, viewer, visible_shops
from admin_ui.forms import Form
from admin_ui.pages import redirect_to, render_page
from bridge.db.engine import unit_of_work
from bridge.services.users import sign_in

log = logging.getLogger(__name__)


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = Form({"email": request.form.get("email", ""), "next": request.values.get("next", "")})
    if request.method == "GET":
        return render_page("admin/login.html", form=form)
    rt = runtime()
    secret = hashlib.sha256(b"cartbridge sign-in failures:" + rt.settings.secret_key.encode()).digest()
    with unit_of_work(rt.sessions) as db:
        result = sign_in(db, secret, request.form.get("email", ""), request.form.get("password", ""),
                         request.remote_addr or "unknown", rt.now())
        user_id, version = (result.user.id, result.user.session_version) if result.user else (None, None)
    if result.retry_after is not None:
        minutes = max(1, math.ceil(result.retry_after.total_seconds() / 60))
        form.fail("password", f"too many failed attempts; try again in {minutes} minute(s)")
        log.warning("admin sign-in refused", extra={"code": "rate_limited"})
        return render_page("admin/login.html", form=form, status=429)
    if user_id is None:
        form.fail("password", "this email and password do not match a user")
        log.info("admin sign-in failed", extra={"code": "bad_credentials"})
        return render_page("admin/login.html", form=form, status=401)
    session.clear()                   # a fresh session: no fixation of a pre-login cookie
    session.permanent = True
    session.update(uid=user_id, ver=version, csrf=secrets.token_urlsafe(32))
    log.info("admin sign-in", extra={"code": "signed_in", "user_id": user_id})
    target = form.get("next")
    if not target.startswith("/admin/") or target.startswith("//"):
        target = url_for("admin.index")
    return redirect(target, code=303)


@blueprint.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("admin.login"), code=303)


@blueprint.route("/")
def index():
    rt = runtime()
    with rt.sessions() as db:
        shops = visible_shops(db)
    if len(shops) == 1 or viewer().embedded and shops:
        return redirect_to("admin.dashboard", shop_id=shops[0].id)
    return redirect_to("admin.shops")


ERRORS = {400: ("Bad request", "The request could not be used."),
          401: ("Not signed in", "Sign in again to continue."),
          404: ("Not found", "There is no such page, or it is not yours to see."),
          429: ("Too many requests", "Wait a moment and try again.")}


def _error_page(exc):
    heading, message = ERRORS.get(exc.code, ("Error", "Something went wrong."))
    if exc.code == 400 and exc.description and "form expired" in exc.description:
        message = exc.description
    return render_page("admin/error.html", code=exc.code, heading=heading, message=message, status=exc.code)


for _code in ERRORS:
    blueprint.register_error_handler(_code, _error_page)
