"""SendGrid's signed Event Webhook: verify (ECDSA), store each event once, answer fast.

``POST /webhooks/sendgrid``: read the raw bytes (capped at ``BATCH_FACTOR`` x
``MAX_WEBHOOK_BYTES``: SendGrid posts batches of events) -> verify SendGrid's ECDSA P-256
signature over timestamp + raw body with the configured public key (401 with a stable code
and nothing stored otherwise) -> one row per event in ``provider_events``, unique on
``sg_event_id``, in one short transaction -> 200 with counts. A well-signed body we cannot
read is kept as a dead row with a reason, never a 5xx. The worker applies the events
(``bridge.services.provider_events``); nothing is processed in the request.
Docs: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Mapping

from cryptography.hazmat.primitives.asymmetric import ec
from flask import Blueprint, current_app, request
from sendgrid.helpers.eventwebhook import EventWebhook

from bridge.model import Verification
from bridge.services.provider_events import store_provider_events
from connectors._parse import raw_digest_key
from webhooks import read_capped

log = logging.getLogger(__name__)
blueprint = Blueprint("sendgrid_events", __name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
PROVIDER = "sendgrid"
BATCH_FACTOR = 8          # a batch holds many events: more room than one platform webhook
_MAX_MESSAGE_ID = 2**31   # messages.id is a 32-bit INTEGER on PostgreSQL
# Column limits of provider_events: a longer value is a dead row, not a database error.
_REQUIRED = (("sg_event_id", 128), ("event", 32))


@blueprint.post("/webhooks/sendgrid")
def events():
    runtime = current_app.extensions["cartbridge"]
    raw = _read_capped(BATCH_FACTOR * runtime.settings.max_webhook_bytes)
    verification = verify_event_webhook(request.headers, raw, runtime.settings.sendgrid_webhook_public_key)
    if not verification.ok:
        return _answer(verification.status, verification.code)
    rows = event_rows(raw, runtime.now())
    with runtime.engine.begin() as connection:   # the write transaction holds only the INSERT
        stored = store_provider_events(connection, rows)
    dead = sum(1 for row in rows if row["status"] == "dead")
    return _answer(200, "stored", received=len(rows), stored=stored, duplicates=len(rows) - stored, dead=dead)


def verify_event_webhook(headers: Mapping[str, str], raw: bytes, public_key: str | None) -> Verification:
    """SendGrid's check, through its own helper, as a result value with a stable code.

    No freshness window on the timestamp: SendGrid retries a batch that got no 2xx, possibly
    hours later, and a replay is harmless because every event is stored once per ``sg_event_id``.
    """
    if not public_key:
        return Verification(False, "no_key_configured", 401)
    signature, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        return Verification(False, "missing_signature_header", 401)
    key = _verification_key(public_key)
    if key is None:
        return Verification(False, "invalid_public_key", 401)
    try:
        # The helper takes text and signs (timestamp + payload).encode("utf-8"): for a UTF-8
        # body (JSON) that is exactly the bytes SendGrid signed; any other body cannot verify.
        valid = EventWebhook().verify_signature(raw.decode("utf-8"), signature, timestamp, key)
    except Exception:  # garbage base64 (binascii.Error), a non-UTF-8 body, ...: not a valid signature
        valid = False
    return Verification(True, "verified") if valid else Verification(False, "invalid_signature", 401)


@lru_cache(maxsize=4)
def _verification_key(public_key: str) -> ec.EllipticCurvePublicKey | None:
    """The configured key (base64 DER, as SendGrid shows it), parsed once; None if unusable."""
    try:
        key = EventWebhook().convert_public_key_to_ecdsa(public_key.strip())
    except Exception:  # the helper's PEM loader raises ValueError (and more) on garbage
        key = None
    # SendGrid signs with P-256; any other key is a configuration mistake, never a pass.
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        log.error("SENDGRID_WEBHOOK_PUBLIC_KEY is not a P-256 public key", extra={"code": "invalid_public_key"})
        return None
    return key


def event_rows(raw: bytes, now: datetime) -> list[dict]:
    """One ``provider_events`` row per element of SendGrid's JSON array. What cannot be read
    is a dead row keyed by a digest of its bytes, so the same bad batch twice is one row."""
    try:
        batch = json.loads(raw)
    except (ValueError, RecursionError):   # not JSON, not UTF-8, or nested beyond reason
        return [_dead(raw, "body is not JSON", now)]
    if not isinstance(batch, list):
        return [_dead(raw, "body is not a JSON array of events", now)]
    return [_row(item, now) for item in batch]


def _row(item: Any, now: datetime) -> dict:
    body = json.dumps(item, separators=(",", ":")).encode()   # ASCII: a lone surrogate stays escaped
    if not isinstance(item, dict):
        return _dead(body, "event is not a JSON object", now)
    for name, limit in _REQUIRED:
        value = item.get(name)
        if not isinstance(value, str) or not value.strip():
            return _dead(body, f"event without {name}", now)
        if len(value) > limit or not value.isprintable():   # NUL or a lone surrogate: no database takes it
            return _dead(body, f"{name} is not text of at most {limit} characters", now)
    # Custom args sit at the top level of each event object; ``message_id`` is ours.
    return _values(item["sg_event_id"], item["event"], body, now, message_id=_message_id(item.get("message_id")),
                   occurred_at=_occurred_at(item.get("timestamp")))


def _dead(body: bytes, reason: str, now: datetime) -> dict:
    return _values(raw_digest_key(body), "(unreadable)", body, now, status="dead", reason=reason)


def _values(event_id: str, event: str, body: bytes, now: datetime, *, message_id: int | None = None,
            occurred_at: datetime | None = None, status: str = "pending", reason: str | None = None) -> dict:
    # Every row carries every column: the batch goes out as one executemany.
    return dict(provider=PROVIDER, event_id=event_id, event=event, message_id=message_id, shop_id=None,
                body=body, occurred_at=occurred_at, received_at=now, status=status, reason=reason,
                processed_at=None)


def _message_id(value: Any) -> int | None:
    """Our messages.id from the custom arg (a string, as SendGrid echoes it); None if not one."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return None
    return int(text) if 0 < int(text) < _MAX_MESSAGE_ID else None


def _occurred_at(value: Any) -> datetime | None:
    """``timestamp`` is unix seconds (UTC)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):   # out of range, NaN
        return None


def _read_capped(cap: int) -> bytes:
    request.max_content_length = cap   # this route's own cap, above the app-wide MAX_CONTENT_LENGTH
    return read_capped(cap)


def _answer(status: int, code: str, **counts: int):
    # An accepted batch is routine (the access log has it); refusals are worth a line.
    level = logging.DEBUG if code == "stored" else logging.INFO
    log.log(level, "sendgrid events %s", code, extra={"code": code, "platform": PROVIDER, "status": status})
    return {"status": code, **counts}, status
