"""Connecting a WooCommerce store without copy-paste: the store URL, WooCommerce's app
authorization URL, and the keys WooCommerce posts back (pure: no I/O).

The flow (``WC_Auth``): we send the merchant to ``<store>/wc-auth/v1/authorize?app_name&scope
&user_id&return_url&callback_url``; when they approve, the store creates a REST key and POSTs
``{"key_id", "user_id", "consumer_key", "consumer_secret", "key_permissions"}`` as JSON to the
callback (which must be https and answer 200, else the key is deleted), then sends the browser to
``return_url`` with ``success=1&user_id=…`` (``success=0`` when they deny).
https://woocommerce.github.io/woocommerce-rest-api-docs/#rest-api-keys
https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/class-wc-auth.php
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

SCOPE = "read_write"                     # coupons (write) and orders (read) both
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})     # plain http is for our tests and dev only
# Where merchants copy a URL from; the site is what comes before these.
WORDPRESS_PATHS = ("/wp-admin", "/wp-json", "/wp-login.php", "/wc-auth", "/index.php")
KEY = {"consumer_key": re.compile(r"ck_[0-9a-fA-F]{32,64}"),      # 'ck_' . wc_rand_hash(): 40 hex digits
       "consumer_secret": re.compile(r"cs_[0-9a-fA-F]{32,64}")}
PERMISSIONS = frozenset({"read", "write", "read_write"})
HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@dataclass(frozen=True)
class KeysGranted:
    """The body of WooCommerce's key callback."""
    user_id: str                 # what we sent as user_id: our one-time install request nonce
    consumer_key: str
    consumer_secret: str
    key_permissions: str         # read | write | read_write
    key_id: int | None = None


def valid_store_url(text: str) -> str | None:
    """The store's site URL, normalized (``https://shop.example/sub``: lower-case host, no trailing
    slash, query or fragment, nothing from ``/wp-admin`` on); None when it is not one.
    ``http://`` is accepted only for localhost (tests, dev): keys travel over it."""
    typed = text.strip()
    if not typed or re.search(r"\s", typed):
        return None
    parts = urlsplit(typed if "://" in typed else f"https://{typed}")
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or "@" in parts.netloc or not _valid_host(host):
        return None
    if scheme == "http" and host not in LOCAL_HOSTS:
        return None
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    path = parts.path
    for marker in WORDPRESS_PATHS:
        path = path.split(marker, 1)[0]
    netloc = f"[{host}]" if ":" in host else host
    return f"{scheme}://{netloc}{port}{path.rstrip('/')}"


def authorize_url(store_url: str, app_name: str, user_id: str, return_url: str, callback_url: str) -> str:
    """``<store>/wc-auth/v1/authorize`` asking for Read/Write keys.

    WooCommerce url-decodes ``return_url`` and ``callback_url`` once more than the query string
    needs (``WC_Auth::get_formatted_url``), so a ``%`` or ``+`` in them would arrive changed."""
    for url in (return_url, callback_url):
        if "%" in url or "+" in url:
            raise ValueError("WooCommerce decodes return_url and callback_url twice: no '%' or '+' in them")
    if not callback_url.lower().startswith("https://"):
        raise ValueError("WooCommerce requires an https callback_url")
    args = {"app_name": app_name, "scope": SCOPE, "user_id": user_id, "return_url": return_url,
            "callback_url": callback_url}
    return f"{store_url.rstrip('/')}/wc-auth/v1/authorize?{urlencode(args, quote_via=quote)}"


def read_callback(raw: bytes) -> KeysGranted | str:
    """The keys from the callback body, or why the body is not WooCommerce's (never echoing it)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):            # UnicodeDecodeError is a ValueError
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    for name, pattern in KEY.items():
        if not isinstance(body.get(name), str) or not pattern.fullmatch(body[name]):
            return f"{name} is missing or malformed"
    if body.get("key_permissions") not in PERMISSIONS:
        return "key_permissions is missing or unknown"
    user_id = body.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, (str, int)) or not str(user_id).strip():
        return "user_id is missing"
    key_id = body.get("key_id")
    return KeysGranted(user_id=str(user_id).strip(), consumer_key=body["consumer_key"],
                       consumer_secret=body["consumer_secret"], key_permissions=body["key_permissions"],
                       key_id=key_id if isinstance(key_id, int) and not isinstance(key_id, bool) else None)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if host == "localhost":
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(labels) >= 2 and all(HOST_LABEL.fullmatch(label) for label in labels)
