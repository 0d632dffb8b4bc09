"""The admin page: a Flask blueprint under ``/admin`` with server-rendered pages.

Two ways in (``admin_ui.access``): a standalone sign-in (users with hashed passwords,
a session cookie, CSRF tokens on every form, a sign-in rate limit), or embedded in the
Shopify admin, where every request carries an App Bridge session token and no cookie is
relied on. Every page is for one shop the viewer may manage; any other shop is a 404.

Page modules register their routes on ``blueprint`` and are imported below.
"""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
                      static_folder="static", static_url_path="/static")

from admin_ui import access, auth_views, carts, dashboard, optouts, sequence, settings_page, shops  # noqa: E402,F401
from admin_ui import templates_editor  # noqa: E402,F401
from admin_ui import connect_woocommerce, connection, install_shopify  # noqa: E402,F401


def init_app(app) -> None:
    """Session cookie settings for the standalone sign-in, then the blueprint."""
    secure = app.extensions["cartbridge"].settings.public_url.startswith("https://")
    app.config.setdefault("SESSION_COOKIE_NAME", "cartbridge_admin")
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=secure, PERMANENT_SESSION_LIFETIME=12 * 3600)
    app.register_blueprint(blueprint)
