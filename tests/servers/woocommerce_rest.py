"""What the parts of the local WooCommerce store share: REST errors and replies, API keys, request
argument checks as WordPress does them, site time, and the store's outbound POSTs.

Outbound POSTs (the ``/wc-auth`` key callback, the webhook creation ping, webhook deliveries) go
through ``resolve``: a mapping of origins to local addresses, e.g.
``{"https://cartbridge.test": "http://127.0.0.1:PORT"}``. It is the test's stand-in for DNS and
TLS: WooCommerce insists on an https callback, while the app under test speaks plain http on
127.0.0.1. A resolved request keeps the original ``Host`` header, as DNS would; an unresolved URL
is posted as it is. Core posts with ``wp_safe_remote_post``/``wp_safe_remote_request``; the
failures it reports come from WordPress's HTTP API, imitated here by ``cURL error`` messages.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests

from tests.servers._local import Handler

USER_AGENT = "WooCommerce/9.9.3 Hookshot (WordPress/6.8.1)"     # WC_Webhook::deliver()'s user-agent


class WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}


@dataclass(frozen=True)
class ApiKey:
    consumer_key: str
    consumer_secret: str
    permissions: str = "read_write"      # read | write | read_write, as WooCommerce stores it
    can_manage: bool = True              # the key's user may manage coupons (manage_woocommerce)
    key_id: int = 0                      # woocommerce_api_keys.key_id (keys made by /wc-auth have one)


@dataclass
class Reply:
    """A controller's answer; ``after`` runs outside the store's lock before the answer is sent
    (core's own outbound calls made inside a request, e.g. the webhook creation ping)."""
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], Any] | None = None


def as_reply(result: Reply | tuple[int, Any]) -> Reply:
    return result if isinstance(result, Reply) else Reply(*result)


def require(key: ApiKey | None, code: str, message: str) -> None:
    """A permission_callback: anonymous -> 401, an authenticated user without the capability -> 403."""
    if key is None:
        raise WooError(401, code, message)
    if not key.can_manage:
        raise WooError(403, code, message)


def auth_error(message: str) -> WooError:
    return WooError(401, "woocommerce_rest_authentication_error", message)


def invalid(name: str, problem: str) -> WooError:
    return WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: problem})


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(body, dict):
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def positive(query: Mapping[str, str], name: str, default: int) -> int:
    value = query.get(name) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise invalid(name, f"{name} is invalid.")
    return int(value)


def per_page(query: Mapping[str, str]) -> int:
    value = positive(query, "per_page", 10)
    if value > 100:
        raise invalid("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
    return value


def one_of(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    """An ``enum`` argument, checked by ``rest_validate_value_from_schema`` before the controller runs."""
    value = query.get(name, default)
    if value not in allowed:
        raise invalid(name, f"{name} is not one of {', '.join(allowed)}.")
    return value


def listed(query: Mapping[str, str], name: str, valid: Callable[[str], bool], problem: str) -> list[str]:
    """An array argument given as a comma list (``wp_parse_list``), each item checked as WordPress does."""
    items = [item.strip() for item in query.get(name, "").split(",") if item.strip()]
    bad = next((i for i, item in enumerate(items) if not valid(item)), None)
    if bad is not None:
        raise invalid(name, f"{name}[{bad}] {problem}")
    return items


def site_dates(name: str, stamp: int | None, site_tz: timezone) -> dict[str, str | None]:
    """``<name>`` in the site's timezone and ``<name>_gmt``, as ``wc_rest_prepare_date_response``."""
    if stamp is None:
        return {name: None, f"{name}_gmt": None}
    return {name: datetime.fromtimestamp(stamp, site_tz).replace(tzinfo=None).isoformat(),
            f"{name}_gmt": datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None).isoformat()}


def respond(rq: Handler, status: int, payload: Any, retry_after: float | None = None,
            headers: Mapping[str, str] | None = None) -> None:
    body = json.dumps(payload).encode()
    rq.close_connection = True
    try:
        rq.send_response(status)
        rq.send_header("Content-Type", "application/json; charset=UTF-8")
        if retry_after is not None:
            rq.send_header("Retry-After", f"{retry_after:g}")
        for name, value in (headers or {}).items():
            rq.send_header(name, value)
        rq.send_header("Content-Length", str(len(body)))
        rq.send_header("Connection", "close")
        rq.end_headers()
        rq.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass                                # the client stopped waiting (delay_next)


def post_out(resolve: Mapping[str, str], url: str, body: bytes, headers: Mapping[str, str],
             timeout: float) -> tuple[int | None, str | None]:
    """POST as WordPress's HTTP API does: (status, None) when answered, (None, error) when not.
    Redirects are not followed (deliveries use ``redirection => 0``)."""
    target, host = resolved(resolve, url)
    sent = {"User-Agent": USER_AGENT, **headers, **({"Host": host} if host else {})}
    try:
        with requests.post(target, data=body, headers=sent, timeout=timeout, allow_redirects=False) as answer:
            return answer.status_code, None
    except requests.Timeout:
        return None, f"cURL error 28: Operation timed out after {int(timeout * 1000)} milliseconds"
    except requests.RequestException:
        return None, f"cURL error 7: Failed to connect to {urlsplit(url).hostname}"


def resolved(resolve: Mapping[str, str], url: str) -> tuple[str, str | None]:
    """The address to connect to for ``url`` and the Host header to keep (None: not resolved)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    for name, target in resolve.items():
        if name.rstrip("/").lower() == origin:
            rest = url[len(origin):]
            return target.rstrip("/") + rest, parts.netloc
    return url, None
