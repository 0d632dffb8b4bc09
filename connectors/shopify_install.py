"""Installing the Shopify app: tokens for a shop, two ways.

- Shopify-managed install (embedded apps): the App Bridge session token, verified by
  ``shopify_app.verify_app_home_req``, is exchanged for an *expiring* offline token (60 min and a
  rotating refresh token), which public apps created since 2026-04-01 must use.
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/token-exchange
- Authorization-code grant: our install URL sends the merchant to Shopify, Shopify sends the
  browser back with ``code``, ``hmac``, ``host``, ``shop``, ``state`` and ``timestamp``; the hmac
  is checked, then the code is traded once (within 10 minutes) for tokens.
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant

Everything here returns a value or an error message; nothing logs a token, a code or a secret.
The state nonce (one-time, short-lived) is the caller's to make and check.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode, urlsplit

import httpx
from shopify_app import IdTokenDetails, token_exchange

from connectors.base import PlatformHttp, TokenSet

log = logging.getLogger(__name__)
# The shop's permanent domain: a letter or digit, then letters, digits and hyphens (one DNS label).
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$")


@dataclass(frozen=True)
class GrantedAccess:
    """What an install yields: the shop's permanent domain, its tokens (aware UTC times), and the
    scopes Shopify granted (comma-separated, as Shopify says them)."""
    domain: str
    tokens: TokenSet
    scopes: str


def valid_shop_domain(text: Any) -> str | None:
    """``<name>.myshopify.com`` lower-cased, from that or ``https://<name>.myshopify.com[/]``;
    None for anything else (another host, a port, a path, a query, user info)."""
    if not isinstance(text, str):
        return None
    candidate = text.strip().lower()
    if "://" in candidate:
        parts = urlsplit(candidate)
        if parts.scheme not in ("https", "http") or parts.path not in ("", "/") or parts.query or parts.fragment:
            return None
        candidate = parts.netloc         # a port or user info stays in and fails the pattern
    return candidate if SHOP_DOMAIN.match(candidate) else None


def authorize_url(shop: str, app_key: str, scopes: Sequence[str] | str, redirect_uri: str, state: str) -> str:
    """Where to send the merchant to approve the app (offline access: no ``grant_options[]``).
    Raises ValueError for a shop that is not a myshopify.com domain."""
    domain = valid_shop_domain(shop)
    if domain is None:
        raise ValueError("not a myshopify.com shop domain")
    scope = scopes if isinstance(scopes, str) else ",".join(scopes)
    query = urlencode({"client_id": app_key, "scope": scope, "redirect_uri": redirect_uri, "state": state})
    return f"https://{domain}/admin/oauth/authorize?{query}"


def verify_callback(query: Mapping[str, str], secrets: Sequence[str]) -> bool:
    """True when ``hmac`` is the hex HMAC-SHA256 of the other parameters (sorted, ``k=v`` joined
    by ``&``) under one of ``secrets`` (the previous secret too, during a rotation). Compared in
    constant time; the same check as Shopify's own libraries, escaping included."""
    given = query.get("hmac")
    if not isinstance(given, str) or not given or not given.isascii():
        return False
    message = _signed_message(query).encode()
    found = False
    for secret in secrets:
        if secret:          # an empty key is forgeable
            digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
            found |= hmac.compare_digest(digest, given.lower())
    return found


def _signed_message(query: Mapping[str, str]) -> str:
    # Escaping keeps "a=1&b=2" inside one value from passing for two parameters.
    # https://github.com/Shopify/shopify_python_api/blob/main/shopify/session.py (__encoded_params_for_signature)
    pairs = (f"{str(k).replace('%', '%25').replace('=', '%3D')}={str(v).replace('%', '%25')}".replace("&", "%26")
             for k, v in query.items() if k != "hmac")
    return "&".join(sorted(pairs))


def exchange_session_token(id_token: IdTokenDetails | Mapping, app_key: str, app_secret: str,
                           http: PlatformHttp) -> GrantedAccess | str:
    """Trade a verified session token for an expiring offline token, or say why not: the message
    starts with ``shopifyapp``'s log code (``invalid_subject_token`` when Shopify refused the
    session token: answer the App Bridge request with 401 so it retries with a fresh one)."""
    result = token_exchange("offline", {"client_id": app_key, "client_secret": app_secret}, id_token=id_token,
                            expiring=True, http_client=http.shopify)
    granted = result.access_token
    if not result.ok or granted is None or not granted.token:
        log.info("shopify token exchange failed", extra={"platform": "shopify", "code": result.log.code,
                                                          "reason": result.shop})
        return f"{result.log.code}: {result.log.detail.split('. Respond')[0]}"
    tokens = TokenSet(granted.token, _moment(granted.expires), granted.refresh_token or None,
                      _moment(granted.refresh_token_expires))
    return GrantedAccess(f"{granted.shop}.myshopify.com", tokens, granted.scope or "")


def exchange_code(shop: str, code: str, app_key: str, app_secret: str, http: PlatformHttp,
                  now: datetime | None = None) -> GrantedAccess | str:
    """Trade an authorization code (once, within 10 minutes) for an expiring offline token, or say
    why not (``invalid_shop``, ``network_error``, ``server_error``, or Shopify's own ``error``)."""
    domain = valid_shop_domain(shop)
    if domain is None:
        return "invalid_shop: not a myshopify.com shop domain"
    body = {"client_id": app_key, "client_secret": app_secret, "code": code, "expiring": 1}
    try:
        response = http.shopify.post(f"https://{domain}/admin/oauth/access_token", json=body,
                                     headers={"Accept": "application/json"}, timeout=http.timeout)
    except httpx.HTTPError as error:
        return _failed(domain, "network_error", type(error).__name__)
    answer = _json(response)
    if response.status_code >= 500:
        return _failed(domain, "server_error", f"Shopify answered HTTP {response.status_code}")
    if response.status_code != 200 or not isinstance(answer.get("access_token"), str):
        return _failed(domain, str(answer.get("error") or f"http_{response.status_code}"),
                       str(answer.get("error_description") or "Shopify refused the code")[:300])
    return GrantedAccess(domain, _token_set(answer, now or datetime.now(UTC)), str(answer.get("scope") or ""))


def _token_set(answer: dict, now: datetime) -> TokenSet:
    def after(field: str) -> datetime | None:
        seconds = answer.get(field)
        return now + timedelta(seconds=seconds) if isinstance(seconds, (int, float)) else None
    return TokenSet(answer["access_token"], after("expires_in"), answer.get("refresh_token") or None,
                    after("refresh_token_expires_in"))


def _failed(domain: str, code: str, detail: str) -> str:
    log.info("shopify code exchange failed", extra={"platform": "shopify", "code": code, "reason": domain})
    return f"{code}: {detail}"


def _json(response: httpx.Response) -> dict:
    try:
        parsed = response.json()
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC) if text else None
    except ValueError:
        return None
