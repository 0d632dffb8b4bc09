"""OAuth on the local Shopify server: ``POST /admin/oauth/access_token`` for the three grants an
app uses, and ``GET /admin/oauth/authorize`` (the merchant approves at once).

- Token exchange (Shopify-managed install): the App Bridge session token (HS256 JWT signed with
  the client secret, ``aud`` = client id, ``dest`` = https://<shop>) becomes an offline token;
  ``expiring=1`` makes it expire in 60 min with a rotating refresh token. A bad JWT answers
  400 ``invalid_subject_token``.
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/token-exchange
- Authorization code: ``authorize``/``approve`` return the callback URL Shopify redirects the
  browser to (``code``, ``hmac``, ``host``, ``shop``, ``state``, ``timestamp``); the code works
  once, for 10 minutes (400 ``invalid_request`` "...not found or was already used").
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
- Refresh (expiring offline tokens): a new access and refresh token; the old refresh token stays
  usable only until the new access token is first used.
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens
Every grant makes the shop's current token the new one and is recorded (``grants``).
Bad client credentials answer 401 ``invalid_client`` (RFC 6749 §5.2), for every grant.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
ACCESS_TOKEN_SECONDS, REFRESH_TOKEN_SECONDS = 3600, 90 * 24 * 3600
CODE_SECONDS = 600
INVALID_GRANT = {"error": "invalid_grant", "error_description": "The provided authorization grant is invalid, "
                 "expired, revoked, or was issued to another client."}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed."}
USED_CODE = {"error": "invalid_request",
             "error_description": "The authorization code was not found or was already used"}


@dataclass(frozen=True)
class TokenGrant:
    """One request to the token endpoint, as tests assert on it (no tokens kept)."""
    shop: str
    grant: str                  # "token_exchange" | "authorization_code" | "refresh_token" | "unknown"
    status: int
    error: str | None
    expiring: bool


@dataclass
class _Code:
    shop: str
    scopes: tuple[str, ...]
    issued_at: float
    used: bool = False


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def callback_hmac(params: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 over the other parameters, sorted, as ``k=v`` joined by ``&``."""
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class InstallMixin:
    """``ShopifyAdminServer``'s OAuth (needs ``_lock``, ``_shop``, ``_shops``, ``app_key``, ``app_secret``)."""

    def session_token(self, shop: str, *, lifetime: float = 60, now: float | None = None,
                      secret: str | None = None, **claims) -> str:
        """An App Bridge session token for ``shop`` as Shopify signs it; ``claims`` override
        (``aud=...``, ``dest=...``), ``secret`` forges the signature."""
        issued = int(now if now is not None else time.time())
        dest = f"https://{_name(shop)}.myshopify.com"
        body = {"iss": f"{dest}/admin", "dest": dest, "aud": self.app_key, "sub": "42", "exp": issued + int(lifetime),
                "nbf": issued, "iat": issued, "jti": str(uuid.uuid4()), "sid": secrets.token_hex(8)}
        body.update(claims)
        return jwt.encode(body, secret or self.app_secret, algorithm="HS256")

    def authorize(self, shop: str, redirect_uri: str, state: str, scopes: Sequence[str] = (),
                  issued_at: float | None = None) -> str:
        """The merchant approved: the callback URL Shopify sends the browser to."""
        name, moment = _name(shop), issued_at if issued_at is not None else time.time()
        code = secrets.token_hex(16)
        with self._lock:
            self._shop(name)
            self._codes[code] = _Code(name, tuple(scopes), moment)
        params = {"code": code, "host": _host(name), "shop": f"{name}.myshopify.com", "state": state,
                  "timestamp": str(int(moment))}
        params["hmac"] = callback_hmac(params, self.app_secret)
        return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(params)}"

    def approve(self, install_url: str) -> str:
        """Follow an app's install URL (``https://<shop>/admin/oauth/authorize?...``) as the merchant."""
        parts = urlsplit(install_url)
        query = dict(parse_qsl(parts.query))
        if parts.scheme != "https" or parts.path != "/admin/oauth/authorize" or query.get("client_id") != self.app_key:
            raise ValueError(f"not an install URL of this app: {install_url}")
        return self.authorize(parts.hostname or "", query["redirect_uri"], query.get("state", ""),
                              tuple(s for s in query.get("scope", "").split(",") if s))

    def grants(self, shop: str | None = None) -> list[TokenGrant]:
        with self._lock:
            return [g for g in self._grants if shop is None or g.shop == _name(shop)]

    # -- the endpoints (called with the request already routed to a known shop) ------------
    def _authorize_answer(self, shop, query: Mapping[str, str]) -> tuple[int, str]:
        if query.get("client_id") != self.app_key or not query.get("redirect_uri"):
            return 400, "Oauth error invalid_request: The client_id or redirect_uri is invalid"
        scopes = tuple(s for s in (query.get("scope") or "").split(",") if s)
        return 302, self.authorize(shop.name, query["redirect_uri"], query.get("state", ""), scopes)

    def _token_answer(self, shop, form: Mapping) -> tuple[int, dict]:
        grant = {TOKEN_EXCHANGE: "token_exchange", "refresh_token": "refresh_token"}.get(
            form.get("grant_type"), "authorization_code" if form.get("code") else "unknown")
        expiring = str(form.get("expiring", "0")) == "1"
        with self._lock:
            if (form.get("client_id"), form.get("client_secret")) != (self.app_key, self.app_secret):
                status, answer = 401, INVALID_CLIENT
            else:
                handler = {"token_exchange": self._exchange, "authorization_code": self._code_grant,
                           "refresh_token": self._refresh_grant}.get(grant)
                status, answer = (handler(shop, form, expiring) if handler
                                  else (400, {"error": "unsupported_grant_type"}))
            self._grants.append(TokenGrant(shop.name, grant, status, answer.get("error"), expiring))
        return status, answer

    def _exchange(self, shop, form: Mapping, expiring: bool) -> tuple[int, dict]:
        if form.get("subject_token_type") != ID_TOKEN or form.get("requested_token_type") != OFFLINE_TOKEN:
            return 400, {"error": "invalid_request", "error_description": "Only id_token subject tokens can be "
                         "exchanged for offline access tokens here"}
        problem = self._session_token_problem(shop, form.get("subject_token"))
        if problem:
            return 400, {"error": "invalid_subject_token", "error_description": problem}
        return 200, _issue(shop, expiring)

    def _session_token_problem(self, shop, token) -> str | None:
        try:
            claims = jwt.decode(token or "", self.app_secret, algorithms=["HS256"], audience=self.app_key,
                                options={"require": ["exp", "nbf", "aud", "dest"]}, leeway=5)
        except jwt.PyJWTError as error:
            return f"Subject token is invalid: {error}"
        dest = urlsplit(str(claims["dest"]))
        if dest.scheme != "https" or dest.hostname != f"{shop.name}.myshopify.com":
            return "Subject token is invalid: dest does not name this shop"
        return None

    def _code_grant(self, shop, form: Mapping, expiring: bool) -> tuple[int, dict]:
        found = self._codes.get(str(form.get("code")))
        if found is None or found.used or found.shop != shop.name or time.time() - found.issued_at > CODE_SECONDS:
            return 400, USED_CODE
        found.used = True
        return 200, _issue(shop, expiring, found.scopes or None)

    def _refresh_grant(self, shop, form: Mapping, expiring: bool) -> tuple[int, dict]:
        presented = form.get("refresh_token")
        if not presented or presented not in (shop.refresh_token, shop.previous_refresh):
            return 400, INVALID_GRANT
        previous = presented if presented == shop.refresh_token else shop.previous_refresh
        answer = _issue(shop, True)
        shop.previous_refresh = previous        # kept until the new access token is first used
        return 200, answer


def _issue(shop, expiring: bool, scopes: Sequence[str] | None = None) -> dict:
    """New tokens for the shop (the old access token dies at once: one token per app and shop)."""
    shop.access_token, shop.refresh_token = new_token("shpat"), new_token("shprt")
    shop.token_expired, shop.previous_refresh = False, None
    if scopes:
        shop.scopes = set(scopes)
    answer = {"access_token": shop.access_token, "scope": ",".join(sorted(shop.scopes))}
    if expiring:
        answer.update(expires_in=ACCESS_TOKEN_SECONDS, refresh_token=shop.refresh_token,
                      refresh_token_expires_in=REFRESH_TOKEN_SECONDS)
    return answer


def _host(name: str) -> str:
    # App Bridge's ``host``: base64 of admin.shopify.com/store/<name>, sent without padding.
    return base64.b64encode(f"admin.shopify.com/store/{name}".encode()).decode().rstrip("=")


def _name(shop: str) -> str:
    return shop.lower().removeprefix("https://").rstrip("/").removesuffix(".myshopify.com")
