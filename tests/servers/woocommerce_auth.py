"""The local store's app authentication endpoint, ``/wc-auth/v1/<route>``, as ``WC_Auth`` serves it.

The store's administrator is taken to be logged in (``login`` only redirects to ``authorize``).
Every route first runs ``make_validation``: ``app_name``, ``user_id``, ``return_url``,
``callback_url``, ``scope`` are required ("Missing parameter %s", the first one missing), ``scope``
is read|write|read_write ("Invalid scope %s"), both URLs must be valid after ``get_formatted_url``
(which url-decodes them AGAIN, after PHP did, and prefixes ``https://`` when there is no ``://``:
"The %s is not a valid URL", naming the URL), and the callback must be https ("The callback_url
needs to be over SSL"). Errors are core's ``wp_die`` page: HTTP 401, "Error: <message>.".

``authorize`` shows ``auth/form-grant-access.php``: two links, Approve (``a.wc-auth-approve``, a GET
of ``access_granted`` with the same arguments and a ``wc_auth_nonce``) and Deny
(``a.wc-auth-deny``, straight to ``return_url`` with ``success=0&user_id=…``). ``access_granted``
checks the nonce, creates a key with the scope's permissions, and POSTs
``{"key_id", "user_id", "consumer_key", "consumer_secret", "key_permissions"}`` as JSON to the
callback (60 s timeout, through ``resolve``): anything but HTTP 200 deletes the key and shows the
error page; a 200 redirects (302) to ``return_url`` with ``success=1&user_id=…``.
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-auth.php
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/templates/auth/form-grant-access.php
"""
from __future__ import annotations

import html
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

import requests

from tests.servers._local import Handler
from tests.servers.woocommerce_rest import ApiKey, post_out

PARAMS = ("app_name", "user_id", "return_url", "callback_url", "scope")
SCOPES = {"read": "Read", "write": "Write", "read_write": "Read/Write"}
PERMISSIONS = {"read": ["View coupons", "View customers", "View orders and sales reports", "View products"],
               "write": ["Create webhooks", "Create coupons", "Create customers", "Create orders", "Create products"],
               "read_write": ["Create webhooks", "View and manage coupons", "View and manage customers",
                              "View and manage orders and sales reports", "View and manage products"]}
CALLBACK_TIMEOUT = 60.0
SEND_FAILED = "An error occurred in the request and at the time were unable to send the consumer data"
ROUTE = re.compile(r"^/wc-auth/v1/(?P<route>[^/?]+)/?$")
APPROVE = re.compile(r'<a href="([^"]+)" class="button button-primary wc-auth-approve">')
DENY = re.compile(r'<a href="([^"]+)" class="button wc-auth-deny">')


class AuthFailure(Exception):
    """What ``auth_endpoint`` catches: shown on the 401 error page."""


@dataclass(frozen=True)
class CallbackPost:
    url: str                    # the callback URL as the app gave it (before ``resolve``)
    body: dict
    status: int | None
    error: str | None


class AuthMixin:
    """Mixed into ``WooCommerceTestServer`` (which provides ``_lock``, ``_keys``, ``url``, ``resolve``)."""

    def _init_auth(self) -> None:
        self._auth_nonce = secrets.token_hex(5)      # the logged-in admin's wp_nonce for wc_auth_grant_access
        self._key_ids = itertools.count(1)
        self._callbacks: list[CallbackPost] = []

    @property
    def callbacks(self) -> list[CallbackPost]:
        with self._lock:
            return list(self._callbacks)

    @property
    def keys(self) -> list[ApiKey]:
        with self._lock:
            return list(self._keys.values())

    def approve(self, authorize_url: str) -> tuple[int, str | None]:
        """What the merchant's click on Approve does: open the authorize page, follow its Approve
        link; (HTTP status, Location) of the store's answer to that click."""
        page = _page(authorize_url)
        if page.status_code != 200:
            return page.status_code, None
        with requests.get(html.unescape(APPROVE.search(page.text)[1]), allow_redirects=False,
                          timeout=CALLBACK_TIMEOUT + 5) as answer:
            return answer.status_code, answer.headers.get("Location")

    def deny(self, authorize_url: str) -> str:
        """Where the Deny link of the authorize page leads (the app's return URL)."""
        return html.unescape(DENY.search(_page(authorize_url).text)[1])

    # -- request handling --------------------------------------------------------------------
    def _auth_request(self, rq: Handler, path: str, query: dict[str, str]) -> None:
        matched = ROUTE.match(path)
        route = matched["route"].lower() if matched else ""
        key: dict = {}
        try:
            data = _validated(query)
            if route == "login":
                status, page, location = 302, "", self._build_url(data, "authorize")
            elif route == "authorize":
                status, page, location = 200, self._grant_page(data), None
            elif route == "access_granted":
                status, page, location = 302, "", self._granted(data, key)
            else:
                raise AuthFailure("You do not have permission to access this page")
        except AuthFailure as failure:
            self._forget(key)
            status, page, location = 401, _error_page(str(failure)), None
        self._record(route or "other", status, None)
        _html(rq, status, page, location)

    def _granted(self, data: dict[str, str], created: dict) -> str:
        if data.get("wc_auth_nonce") != self._auth_nonce:
            raise AuthFailure("Invalid nonce verification")
        created.update(self._create_key(data["user_id"], data["scope"]))
        url = _formatted(data["callback_url"])
        status, error = post_out(self.resolve, url, json.dumps(created).encode(),
                                 {"Content-Type": "application/json;charset=UTF-8"}, CALLBACK_TIMEOUT)
        with self._lock:
            self._callbacks.append(CallbackPost(url, dict(created), status, error))
        if error or status != 200:
            raise AuthFailure(error or SEND_FAILED)
        return _with_args(_formatted(data["return_url"]), success="1", user_id=data["user_id"])

    def _create_key(self, user_id: str, scope: str) -> dict:
        with self._lock:
            key = ApiKey(f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}", scope, True,
                         next(self._key_ids))
            self._keys[key.consumer_key] = key
        return {"key_id": key.key_id, "user_id": user_id, "consumer_key": key.consumer_key,
                "consumer_secret": key.consumer_secret, "key_permissions": key.permissions}

    def _forget(self, created: dict) -> None:
        """``maybe_delete_key``: a key whose callback failed is deleted."""
        with self._lock:
            self._keys.pop(created.get("consumer_key", ""), None)

    def _build_url(self, data: dict[str, str], route: str, **extra: str) -> str:
        args = {"app_name": data["app_name"], "user_id": data["user_id"], "return_url": _formatted(data["return_url"]),
                "callback_url": _formatted(data["callback_url"]), "scope": data["scope"], **extra}
        return f"{self.url}/wc-auth/v1/{route}?{urlencode(args, quote_via=quote)}"

    def _grant_page(self, data: dict[str, str]) -> str:
        app, scope = html.escape(data["app_name"]), data["scope"]
        granted = html.escape(self._build_url(data, "access_granted", wc_auth_nonce=self._auth_nonce))
        denied = html.escape(_with_args(_formatted(data["return_url"]), success="0", user_id=data["user_id"]))
        items = "".join(f"<li>{html.escape(p)}</li>" for p in PERMISSIONS[scope])
        return (f"<!DOCTYPE html><html><head><title>{app} would like to connect to your store</title></head><body>"
                f"<h1>{app} would like to connect to your store</h1>"
                f"<p>This will give &quot;<strong>{app}</strong>&quot; <strong>{SCOPES[scope]}</strong> access "
                f"which will allow it to:</p><ul class=\"wc-auth-permissions\">{items}</ul>"
                "<div class=\"wc-auth-logged-in-as\"><p>Logged in as admin</p></div>"
                f"<p class=\"wc-auth-actions\"><a href=\"{granted}\" class=\"button button-primary wc-auth-approve\">"
                f"Approve</a>\n<a href=\"{denied}\" class=\"button wc-auth-deny\">Deny</a></p></body></html>")


def _validated(query: dict[str, str]) -> dict[str, str]:
    """``WC_Auth::make_validation``."""
    for name in PARAMS:
        if not query.get(name):
            raise AuthFailure(f"Missing parameter {name}")
    if query["scope"] not in SCOPES:
        raise AuthFailure(f"Invalid scope {html.escape(query['scope'])}")
    for name in ("return_url", "callback_url"):
        url = _formatted(query[name])
        if not _filter_validate_url(url):
            raise AuthFailure(f"The {url} is not a valid URL")
    if not _formatted(query["callback_url"]).lower().startswith("https://"):
        raise AuthFailure("The callback_url needs to be over SSL")
    return dict(query)


def _formatted(url: str) -> str:
    """``get_formatted_url``: ``urldecode`` once more, and https:// when no scheme is given."""
    url = unquote_plus(url)
    return url if "://" in url else f"https://{url}"


def _filter_validate_url(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme and parts.netloc) and not re.search(r"\s", url)


def _with_args(url: str, **args: str) -> str:
    """``add_query_arg``: replaces or appends the arguments, keeping the rest of the URL."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in args]
    return urlunsplit(parts._replace(query=urlencode([*kept, *args.items()], quote_via=quote)))


def _page(url: str) -> requests.Response:
    with requests.get(url, allow_redirects=False, timeout=10) as page:
        return page


def _error_page(message: str) -> str:
    return ("<!DOCTYPE html><html><head><title>Access denied</title></head><body id=\"error-page\">"
            f"<div class=\"wp-die-message\">Error: {html.escape(message)}.</div></body></html>")


def _html(rq: Handler, status: int, page: str, location: str | None) -> None:
    body = page.encode()
    rq.close_connection = True
    try:
        rq.send_response(status)
        rq.send_header("Content-Type", "text/html; charset=UTF-8")
        if location:
            rq.send_header("Location", location)
        rq.send_header("Content-Length", str(len(body)))
        rq.send_header("Connection", "close")
        rq.end_headers()
        rq.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass
