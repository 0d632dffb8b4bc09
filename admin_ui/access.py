"""Who is asking, which shops they may see, and the headers every admin page carries.

- Embedded (Shopify admin): a request carrying an App Bridge session token (``id_token``
  query parameter on a page load, ``Authorization: Bearer`` on a fetch) is verified by
  ``shopifyapp``'s app-home check (HS256 with the app secret, audience, expiry). The
  viewer may manage exactly the shop named in the token's ``dest``, if it is installed.
  Nothing is kept in cookies (third-party cookies are blocked in the admin iframe).
  A page load without a valid token goes to Shopify's "patch id token" page, which gets
  a fresh token from App Bridge and reloads; a fetch gets a 401.
- Standalone: the signed session cookie names the user and the user's session version;
  every POST must carry the session's CSRF token.

Every page sends ``Content-Security-Policy`` with ``frame-ancestors https://{shop}
https://admin.shopify.com`` when embedded (``'none'`` otherwise), ``no-store`` and a
same-origin referrer policy (page URLs carry session tokens when embedded).
"""
from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field, replace
from urllib.parse import urlparse

from flask import Response, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_ui import blueprint
from bridge.db.tables import Shop, User
from bridge.runtime import Runtime
from bridge.services.users import shop_ids_for

log = logging.getLogger(__name__)
PATCH_TOKEN_PATH = "/admin/embedded/token"
OPEN_ENDPOINTS = {"admin.login", "admin.static", "admin.patch_id_token",
                  "admin.shopify_install", "admin.shopify_callback"}   # checked by themselves


@dataclass(frozen=True)
class Viewer:
    label: str                          # shown in the page header
    shop_ids: frozenset[int] | None     # None: every shop (agency owner)
    embedded: bool = False
    user_id: int | None = None          # standalone users
    shop_domain: str | None = None      # embedded: the shop of the token
    query: dict = field(default_factory=dict)   # embedded: shop/host to keep on every link

    def may_manage(self, shop_id: int) -> bool:
        return self.shop_ids is None or shop_id in self.shop_ids


def runtime() -> Runtime:
    return current_app.extensions["cartbridge"]


def viewer() -> Viewer:
    return g.viewer


def shop_for_viewer(session: Session, shop_id: int) -> Shop:
    """The shop, if this viewer may manage it; otherwise a 404 (never a hint that it exists)."""
    shop = session.get(Shop, shop_id)
    if shop is None or not viewer().may_manage(shop.id) or shop.status == "redacted":
        abort(404)
    return shop


def visible_shops(session: Session) -> list[Shop]:
    query = select(Shop).where(Shop.status != "redacted").order_by(Shop.name, Shop.id)
    ids = viewer().shop_ids
    if ids is not None:
        query = query.where(Shop.id.in_(ids or [-1]))
    return list(session.scalars(query))


def csrf_token() -> str:
    """The standalone session's CSRF token (embedded requests need none: no cookie is trusted)."""
    if g.get("viewer") is not None and g.viewer.embedded:
        return ""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@blueprint.before_request
def authenticate():
    g.viewer = None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if _carries_session_token():
        return _authenticate_embedded()
    return _authenticate_standalone()


def _carries_session_token() -> bool:
    return bool(request.args.get("id_token") or request.args.get("embedded")
                or request.headers.get("Authorization", "").startswith("Bearer "))


def _authenticate_standalone():
    with runtime().sessions() as db:      # one read: the user and their shops
        user = _signed_in_user(db)
        shop_ids = shop_ids_for(db, user) if user is not None else None
    if user is None:
        session.pop("uid", None)
        if request.method == "GET":
            return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
        abort(401)
    if request.method == "POST":
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        if not hmac.compare_digest(sent, session.get("csrf", "")) or not sent:
            log.warning("admin request refused", extra={"code": "csrf_mismatch", "path": request.path})
            abort(400, description="The form expired. Reload the page and try again.")
    g.viewer = Viewer(user.email, shop_ids, user_id=user.id)
    return None


def _signed_in_user(db: Session) -> User | None:
    uid, version = session.get("uid"), session.get("ver")
    if not uid:
        return None
    user = db.get(User, uid)
    return user if user is not None and user.session_version == version else None


def _authenticate_embedded():
    settings = runtime().settings
    if not (settings.shopify_api_key and settings.shopify_api_secret):
        abort(404)
    from shopify_app import ShopifyApp
    app = ShopifyApp(settings.shopify_api_key, settings.shopify_api_secret, settings.shopify_api_secret_previous)
    result = app.verify_app_home_req({"method": request.method, "headers": dict(request.headers),
                                      "url": request.url, "body": ""}, PATCH_TOKEN_PATH)
    if not result.ok:
        log.info("admin session token refused", extra={"code": result.log.code})
        return _shopify_response(result.response)
    domain = (urlparse(result.id_token.claims.get("dest", "")).hostname or "").lower()
    if not _is_shop_domain(domain):
        log.info("admin session token refused", extra={"code": "invalid_shop_domain"})
        abort(401)
    keep = {k: request.args[k] for k in ("shop", "host") if request.args.get(k)}
    # Until the shop is known this viewer manages nothing; it lets an error page be framed.
    g.viewer = Viewer(f"Shopify staff ({domain})", frozenset(), embedded=True, shop_domain=domain,
                      query={**keep, "embedded": "1"})
    g.shopify_headers = dict(result.response.headers)
    with runtime().sessions() as db:
        shop = db.scalars(select(Shop).where(Shop.platform == "shopify", Shop.domain == domain)).first()
        installed = (shop is not None and shop.uninstalled_at is None and shop.status != "redacted"
                     and shop.access_token_enc is not None)
        shop_id = shop.id if shop is not None else None
    if not installed:
        # Shopify-managed install: Shopify installed the app; we learn of it on the first load.
        from admin_ui.install_shopify import install_embedded   # it imports this module
        shop_id = install_embedded(result, domain)
        if not isinstance(shop_id, int):
            return shop_id                  # an error page, or App Bridge's retry answer
    g.viewer = replace(g.viewer, shop_ids=frozenset({shop_id}))
    return None


def _shopify_response(res) -> Response:
    response = Response(res.body, status=res.status, headers=res.headers)
    if res.status == 401:
        response.set_data("Unauthorized: the Shopify session token is missing, forged or expired.")
    return response


@blueprint.route("/embedded/token")
def patch_id_token():
    """Shopify's page that fetches a fresh session token with App Bridge and reloads."""
    settings = runtime().settings
    if not (settings.shopify_api_key and settings.shopify_api_secret):
        abort(404)
    from shopify_app import ShopifyApp
    app = ShopifyApp(settings.shopify_api_key, settings.shopify_api_secret)
    result = app.app_home_patch_id_token({"method": "GET", "headers": dict(request.headers),
                                          "url": request.url, "body": ""})
    response = Response(result.response.body, status=result.response.status, headers=result.response.headers)
    shop = (request.args.get("shop") or "").lower()
    if result.ok and _is_shop_domain(shop):
        response.headers["Content-Security-Policy"] = (
            f"frame-ancestors https://{shop} https://admin.shopify.com")
    return response


def _is_shop_domain(host: str) -> bool:
    label, _, rest = host.partition(".")
    return rest == "myshopify.com" and label.replace("-", "").isalnum()


@blueprint.after_request
def security_headers(response: Response) -> Response:
    current = g.get("viewer")
    embedded = current is not None and current.embedded
    ancestors = f"https://{current.shop_domain} https://admin.shopify.com" if embedded else "'none'"
    scripts = "'self' https://cdn.shopify.com" if embedded else "'self'"
    forms = g.get("form_action", "'self'")     # a page posting on to another origin widens it
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: https:; connect-src 'self'; frame-src 'self'; form-action {forms}; "
        f"base-uri 'none'; object-src 'none'; frame-ancestors {ancestors}")
    if embedded:
        for name, value in g.get("shopify_headers", {}).items():
            if name.lower() == "link":
                response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
