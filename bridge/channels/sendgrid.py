"""The SendGrid email channel: one OutboundMessage -> one v3 ``POST /v3/mail/send`` call.

It turns every way the call can end into an Outcome the worker can act on (see base.py):
202 -> SENT; 429 / 5xx but 504 / "never reached SendGrid" -> RETRY; other 4xx -> FAILED;
"SendGrid may have it" -> UNKNOWN. SendGrid has no idempotency key, so a resend after an
UNKNOWN can deliver the reminder twice.
Docs: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
"""
from __future__ import annotations

import http.client
import json
import logging
import math
import re
import urllib.error
from urllib.parse import urlsplit

import sendgrid
from python_http_client.exceptions import HTTPError

from bridge.channels.base import OutboundMessage, Outcome, SendResult

log = logging.getLogger(__name__)

# https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send (categories) and
# https://www.twilio.com/docs/sendgrid/for-developers/sending-email/categories
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_ERROR_LENGTH = 300
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_EMAIL_LIKE = re.compile(r"[^\s@\"'<>()\[\]]+@[^\s@\"'<>()\[\]]+")


class _DropLibraryDebugLogs(logging.Filter):
    """python_http_client logs the request headers (``Authorization: Bearer <key>``) and the
    JSON payload (addresses, message text) at DEBUG level; drop those records, whatever the
    log level, so turning on DEBUG logging can never leak the key or a customer's email."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def _silence_library_debug_logs() -> None:
    library_log = logging.getLogger("python_http_client.client")
    if not any(isinstance(f, _DropLibraryDebugLogs) for f in library_log.filters):
        library_log.addFilter(_DropLibraryDebugLogs())


def _checked_host(host: str) -> str:
    """Fail at start-up on a host urllib cannot use or that would send the key in clear text."""
    parts = urlsplit(host)
    parts.port                                # raises ValueError on a malformed port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("SendGrid host must be an http(s) URL, e.g. https://api.sendgrid.com")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError("SendGrid host must use https (plain http only for a local test server)")
    return host.rstrip("/")  # the library appends "/v3/mail/send"


def categories_for(step: int, extra: tuple[str, ...]) -> list[str]:
    """Our two stats categories first, then the caller's; deduplicated, blank ones dropped,
    each cut to 255 characters and at most 10 in all (SendGrid rejects the send otherwise)."""
    result: list[str] = []
    for category in ("cartbridge", f"step-{step}", *extra):
        category = category.strip()[:MAX_CATEGORY_LENGTH]
        if category and category not in result:
            result.append(category)
    return result[:MAX_CATEGORIES]


def _address(email: str, name: str | None) -> dict[str, str]:
    return {"email": email, "name": name} if name else {"email": email}


def mail_send_body(message: OutboundMessage, asm_group_id: int | None = None) -> dict:
    """The v3 mail/send JSON body for one message (one personalization, one recipient)."""
    body: dict = {
        "personalizations": [{"to": [_address(message.to_email, message.to_name)]}],
        "from": _address(message.from_email, message.from_name),
        "subject": message.subject,
        # SendGrid requires text/plain first, then text/html.
        "content": [{"type": "text/plain", "value": message.text},
                    {"type": "text/html", "value": message.html}],
        "custom_args": message.custom_args,   # echoed on every Event Webhook event
        "categories": categories_for(message.step, message.categories),
    }
    if message.headers:
        body["headers"] = dict(message.headers)   # e.g. List-Unsubscribe (RFC 8058)
    if asm_group_id is not None:
        body["asm"] = {"group_id": asm_group_id}
    return body


def _retry_after(headers) -> float | None:
    """``Retry-After`` in delta-seconds; the HTTP-date form is ignored (the caller's backoff
    applies instead), so this stays free of clocks."""
    try:
        value = float((headers or {}).get("Retry-After", ""))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _provider_reason(err: HTTPError) -> str:
    """SendGrid's ``errors[].message`` (with ``field``) texts, or the HTTP reason phrase.
    Never the raw body: only the fields we pick out of the documented error shape."""
    try:
        errors = json.loads(err.body)["errors"]
        parts = [f"{e['message']} ({e['field']})" if e.get("field") else str(e["message"])
                 for e in errors if isinstance(e, dict) and e.get("message")]
    except (TypeError, ValueError, KeyError, AttributeError):
        parts = []
    return "; ".join(parts) or str(err.reason or "no reason given")


class SendGridChannel:
    """Sends reminder email through SendGrid's v3 Mail Send API (global or EU host)."""

    name = "sendgrid"
    transactional = False

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com",
                 timeout: float = 10.0, asm_group_id: int | None = None) -> None:
        if not api_key:  # the library would silently fall back to $SENDGRID_API_KEY
            raise ValueError("a SendGrid API key is required")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._api_key = api_key
        self._asm_group_id = asm_group_id
        self._client = sendgrid.SendGridAPIClient(api_key, host=_checked_host(host))
        # urllib uses this one value for connecting and for each socket read.
        self._client.client.timeout = timeout
        _silence_library_debug_logs()

    def __repr__(self) -> str:
        return f"SendGridChannel(host={self._client.host!r}, key=...{self._api_key[-4:]})"

    def send(self, message: OutboundMessage) -> SendResult:
        body = mail_send_body(message, self._asm_group_id)
        try:
            response = self._client.client.mail.send.post(request_body=body)
        except HTTPError as err:
            return self._rejected(message, err)
        except urllib.error.URLError as err:
            return self._unreachable(message, err)
        except (OSError, http.client.HTTPException) as err:
            return self._maybe_sent(message, err)
        provider_id = response.headers.get("X-Message-Id")
        code = "sendgrid_sent" if provider_id else "sendgrid_sent_without_id"
        log.info("sendgrid accepted the message (HTTP %s)", response.status_code,
                 extra={"message_id": message.message_id, "code": code})
        return SendResult(Outcome.SENT, provider_message_id=provider_id,
                          status_code=response.status_code)

    def _rejected(self, message: OutboundMessage, err: HTTPError) -> SendResult:
        """An HTTP error status: retry 429 and 5xx (Saleor-style), everything else is final."""
        status = int(err.status_code)
        extra = {"message_id": message.message_id}
        if status == 504:
            # A gateway timeout: the request reached SendGrid's edge, which gave up waiting
            # for the backend; the backend may still have accepted it. Same as a read timeout.
            log.warning("sendgrid answered HTTP 504; outcome unknown, not resent",
                        extra={**extra, "code": "sendgrid_outcome_unknown"})
            return SendResult(Outcome.UNKNOWN, error="sendgrid 504 gateway timeout", status_code=504)
        if status == 429 or status >= 500:
            code = "sendgrid_rate_limited" if status == 429 else "sendgrid_server_error"
            log.warning("sendgrid answered HTTP %s; will retry", status,
                        extra={**extra, "code": code})
            return SendResult(Outcome.RETRY, error=f"sendgrid {status}", status_code=status,
                              retry_after=_retry_after(err.headers))
        log.error("sendgrid rejected the message with HTTP %s", status,
                  extra={**extra, "code": "sendgrid_rejected"})
        return SendResult(Outcome.FAILED, status_code=status,
                          error=self._safe(f"sendgrid {status}: {_provider_reason(err)}"))

    def _unreachable(self, message: OutboundMessage, err: urllib.error.URLError) -> SendResult:
        # urllib wraps in URLError only what fails inside HTTPConnection.request(): DNS,
        # connect (refused, timeout, TLS handshake) and writing the request. Either way the
        # full request never left this machine, so SendGrid cannot have accepted it.
        log.warning("sendgrid unreachable (%s); will retry", type(err.reason).__name__,
                    extra={"message_id": message.message_id, "code": "sendgrid_unreachable"})
        return SendResult(Outcome.RETRY, error=f"sendgrid unreachable: {type(err.reason).__name__}")

    def _maybe_sent(self, message: OutboundMessage, err: Exception) -> SendResult:
        # A bare OSError / HTTPException comes from getresponse() or reading the response,
        # i.e. after the whole request was written: SendGrid may have queued the message.
        log.error("no answer from sendgrid after sending (%s); the message may have been "
                  "accepted", type(err).__name__,
                  extra={"message_id": message.message_id, "code": "sendgrid_outcome_unknown"})
        return SendResult(Outcome.UNKNOWN, error=f"no response from sendgrid after the request "
                          f"was sent ({type(err).__name__}); the provider may have accepted it")

    def _safe(self, text: str) -> str:
        """Short, and free of the key and of any address SendGrid quoted back."""
        text = text.replace(self._api_key, "[api key]")
        return _EMAIL_LIKE.sub("[email]", text)[:MAX_ERROR_LENGTH]
