"""SendGrid's side of the signed Event Webhook, for tests: a signer and realistic events.

``EventWebhookSigner`` does what SendGrid does (with ``cryptography``, not the code under test):
a P-256 key pair, the public key shown as base64 DER SubjectPublicKeyInfo (what the SendGrid
console's "Verification Key" holds), and each POST signed with ECDSA-SHA256 over the timestamp
header's bytes followed by the raw body, the signature sent as base64 DER.
``sendgrid_event`` builds event objects shaped like the Event Webhook reference's examples, with
our ``custom_args`` at the top level of each event, as SendGrid posts them.
Docs: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event and
https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
"""
from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"

# What each event type adds to the common fields, as in SendGrid's reference examples.
_EXTRA = {
    "processed": lambda: {"pool": {"name": "new_MY_test", "id": 210}},
    "deferred": lambda: {"response": "400 try again later", "attempt": "5", "ip": "168.1.1.1"},
    "delivered": lambda: {"response": "250 OK", "ip": "168.1.1.1", "tls": 1},
    "open": lambda: {"sg_machine_open": False, "useragent": USER_AGENT, "ip": "255.255.255.255"},
    "click": lambda: {"useragent": USER_AGENT, "ip": "255.255.255.255", "url": "https://shop.example/cart",
                      "url_offset": {"index": 0, "type": "html"}},
    "bounce": lambda: {"type": "bounce", "bounce_classification": "Invalid Address", "status": "5.1.1",
                       "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
                       "ip": "168.1.1.1", "tls": 1},
    "dropped": lambda: {"reason": "Bounced Address", "status": "5.0.0"},
    "spamreport": lambda: {},
    "unsubscribe": lambda: {},
    "group_unsubscribe": lambda: {"asm_group_id": 10, "useragent": USER_AGENT, "ip": "255.255.255.255",
                                  "url": "https://u.example/unsubscribe"},
}


class EventWebhookSigner:
    """One SendGrid account's signing key."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        der = self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def sign(self, raw: bytes, timestamp: str) -> str:
        der = self._key.sign(timestamp.encode() + raw, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(der).decode()

    def headers(self, raw: bytes, timestamp: str = "1795428000") -> dict[str, str]:
        return {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: self.sign(raw, timestamp)}


def sendgrid_event(kind: str, message, at: datetime, *, email: str | None = None,
                   custom_args: dict | None = None, **fields) -> dict:
    """An event about one of our messages (a ``messages`` row), ``at`` a moment in time.

    ``custom_args`` default to what the worker sent (``OutboundMessage.custom_args``);
    ``fields`` override or add anything (``reason=...``, ``type="blocked"``, ...).
    """
    sent_id = message.provider_message_id or secrets.token_urlsafe(16)
    args = custom_args if custom_args is not None else {
        "message_id": str(message.id), "shop_id": str(message.shop_id), "cart_id": str(message.cart_id),
        "step": "1"}
    event = {"email": email or message.to_email, "timestamp": int(at.timestamp()),
             "smtp-id": f"<{sent_id}@ismtpd-555>", "event": kind, "category": ["cartbridge", "step-1"],
             "sg_event_id": secrets.token_urlsafe(16), "sg_message_id": f"{sent_id}.recvd-5f54b5d587-pczjm-1-0.0",
             **_EXTRA.get(kind, dict)(), **args}
    event.update(fields)
    return event


def post_events(client, signer: EventWebhookSigner, events, *, headers: dict | None = None):
    """POST a batch (a list of events, or exact bytes) signed by ``signer``."""
    raw = events if isinstance(events, bytes) else json.dumps(events).encode()
    return client.post("/webhooks/sendgrid", data=raw, headers={**signer.headers(raw), **(headers or {})})
