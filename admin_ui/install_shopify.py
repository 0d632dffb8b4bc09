"""Installing the Shopify app, both ways Shopify offers.

- Shopify-managed install (``install_embedded``): Shopify installs the app and grants the
  scopes of ``shopify.app.toml`` without calling us; the first load of the app home brings a
  session token for a shop we do not know yet (or one that uninstalled us, or lost its token).
  The token is swapped for an expiring offline token (token exchange) and the shop is stored.
  https://shopify.dev/docs/apps/build/authentication-authorization/app-installation
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/token-exchange
- Authorization-code grant (``/admin/shopify/install`` and ``/callback``), for deployments
  outside the managed flow: a one-time state (an install request, also kept in a short-lived
  cookie) goes to Shopify's grant page; the callback is checked (HMAC with the current or
  previous app secret, shop domain, age, state) before the code is exchanged.
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant

The platform calls happen inside the request but outside any database transaction. Every
refusal is a plain page with the reason; logs carry codes and shop domains, never a token,
a code or a secret.
"""
from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from flask import Response, abort, redirect, request

from admin_ui import blueprint
from admin_ui.access import runtime
from admin_ui.pages import render_page
from bridge.cli_install import SCOPES
from bridge.db.engine import unit_of_work
from bridge.services.install import install_shopify, start_request, take_request
from connectors.shopify_install import (GrantedAccess, authorize_url, exchange_code, exchange_session_token,
                                        valid_shop_domain, verify_callback)

log = logging.getLogger(__name__)
STATE_COOKIE = "cartbridge_shopify_state"
STATE_PATH = "/admin/shopify"
STATE_SECONDS = 10 * 60
CALLBACK_MAX_AGE = timedelta(days=1)
CLOCK_SKEW = timedelta(minutes=5)        # a callback stamped slightly ahead of our clock is fine
DOMAIN_REASON = "must be the shop's <name>.myshopify.com address"


def install_embedded(verified, domain: str):
    """Managed install on a first load: the shop's id, or what to answer instead."""
    rt = runtime()
    settings = rt.settings
    granted = exchange_session_token(verified.id_token, settings.shopify_api_key, settings.shopify_api_secret,
                                     rt.store_access().http)
    if isinstance(granted, str):
        code = _reason_code(granted)
        log.warning("shopify install failed", extra={"code": "token_exchange_failed", "reason": code,
                                                     "shop": domain})
        retry = verified.invalid_token_response
        if code == "invalid_subject_token" and retry is not None and not request.args.get("id_token"):
            # A fetch: App Bridge retries it once with a fresh session token. (A page load gets
            # the error page: sending it for a new token could loop.)
            return Response(retry.body, status=retry.status, headers=retry.headers)
        return _refusal(502, "Shopify did not grant access",
                        "Shopify did not give cartbridge access to this shop just now. Reload the page to try again.")
    shop_id = _store(granted, domain, managed_by="shopify")
    log.info("shopify app installed", extra={"code": "installed_managed", "shop_id": shop_id})
    return shop_id


@blueprint.route("/shopify/install")
def shopify_install():
    """Start the authorization-code install for ``?shop=<name>.myshopify.com``."""
    rt = runtime()
    settings = _app_settings()
    shop = valid_shop_domain(request.args.get("shop", ""))
    if shop is None:
        return _refused(400, "invalid_shop_domain", f"The shop {DOMAIN_REASON}.")
    with unit_of_work(rt.sessions) as db:
        state = start_request(db, platform="shopify", domain=shop, user_id=None, now=rt.now())
    target = authorize_url(shop, settings.shopify_api_key, SCOPES, f"{settings.public_url}/admin/shopify/callback",
                           state)
    log.info("shopify install started", extra={"code": "install_started", "shop": shop})
    response = redirect(target, code=302)
    # Lax: Shopify's redirect back is a top-level GET navigation, which carries Lax cookies.
    response.set_cookie(STATE_COOKIE, state, max_age=STATE_SECONDS, path=STATE_PATH, httponly=True,
                        samesite="Lax", secure=settings.public_url.startswith("https://"))
    return response


@blueprint.route("/shopify/callback")
def shopify_callback():
    """Shopify's redirect after the merchant approved: check everything, then exchange the code."""
    rt = runtime()
    settings = _app_settings()
    refused = _check_callback(settings.shopify_secrets)
    if refused is not None:
        return refused
    shop = valid_shop_domain(request.args["shop"])
    granted = exchange_code(shop, request.args.get("code", ""), settings.shopify_api_key,
                            settings.shopify_api_secret, rt.store_access().http, now=rt.now())
    if isinstance(granted, str):
        log.warning("shopify install failed", extra={"code": "code_exchange_failed", "shop": shop,
                                                     "reason": _reason_code(granted)})
        return _refusal(502, "Shopify did not grant access",
                        "Shopify did not exchange the authorization code. Start the installation again.")
    shop_id = _store(granted, shop, managed_by="cartbridge")
    log.info("shopify app installed", extra={"code": "installed_authorization_code", "shop_id": shop_id})
    # Into the app inside the Shopify admin, which loads our app home with a session token.
    response = redirect(f"https://{shop}/admin/apps/{settings.shopify_api_key}", code=302)
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH, httponly=True, samesite="Lax",
                           secure=settings.public_url.startswith("https://"))
    return response


def _check_callback(secrets) -> tuple | None:
    """None when the callback may be used, else the refusal page. A state that reached
    ``take_request`` is spent either way."""
    if not verify_callback(request.args, secrets):
        return _refused(401, "invalid_hmac", "The request is not signed by Shopify for this app.")
    shop = valid_shop_domain(request.args.get("shop", ""))
    if shop is None:
        return _refused(400, "invalid_shop_domain", f"The shop {DOMAIN_REASON}.")
    if not _recent(request.args.get("timestamp", "")):
        return _refused(400, "stale_callback", "The request is more than a day old. Start the installation again.")
    state, kept = request.args.get("state", ""), request.cookies.get(STATE_COOKIE, "")
    if not state or not hmac.compare_digest(state.encode(), kept.encode()):
        return _refused(400, "state_mismatch", "This installation was not started in this browser, or took longer "
                        "than 10 minutes. Start it again.")
    rt = runtime()
    with unit_of_work(rt.sessions) as db:
        started = take_request(db, platform="shopify", nonce=state, now=rt.now())
        started_for = started.domain if started is not None else None
    if started_for != shop:
        return _refused(400, "unknown_state", "This installation link was already used, has expired or was "
                        "started for another shop. Start the installation again.")
    return None


def _recent(stamp: str) -> bool:
    """Shopify's ``timestamp`` (seconds since the epoch) is at most a day old."""
    try:
        age = runtime().now().timestamp() - int(stamp)
    except ValueError:
        return False
    return -CLOCK_SKEW.total_seconds() <= age <= CALLBACK_MAX_AGE.total_seconds()


def _store(granted: GrantedAccess, domain: str, *, managed_by: str) -> int:
    """Keep the shop and its tokens (two first loads at once end with one row: see
    ``bridge.services.install``)."""
    rt = runtime()
    with unit_of_work(rt.sessions) as db:
        shop = install_shopify(db, rt.box, domain=domain, tokens=granted.tokens, scopes=granted.scopes or None,
                               now=rt.now(), managed_by=managed_by, backfill_days=rt.settings.backfill_days)
        return shop.id


def _reason_code(message: str) -> str:
    """The leading log code of a failure message (``shopifyapp``'s), never the rest."""
    return message.split(":", 1)[0].strip()[:64] or "unknown"


def _app_settings():
    settings = runtime().settings
    if not (settings.shopify_api_key and settings.shopify_api_secret):
        abort(404)
    return settings


def _refused(status: int, code: str, message: str) -> tuple:
    log.info("shopify install refused", extra={"code": code})
    return _refusal(status, "Not signed by Shopify" if status == 401 else "Installation refused", message)


def _refusal(status: int, heading: str, message: str) -> tuple:
    return render_page("admin/error.html", code=status, heading=heading, message=message, status=status)
