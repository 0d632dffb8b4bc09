"""Who a contact is, without keeping who they are: normalized, keyed hashes and signed
unsubscribe tokens (pure; the keys come from ``SECRET_KEY``).

- ``email_hash`` / ``phone_hash``: HMAC-SHA256 of the normalized address under a key
  derived from the instance secret. Opt-outs are stored this way so they survive the
  customer's redaction, and a leaked table cannot be reversed with a list of emails.
- ``unsubscribe_token``: shop id + email hash + a MAC over both. It never expires,
  cannot be guessed, and a token made for shop A does not verify for shop B.

``SECRET_KEY`` is therefore permanent for an installation: changing it would break
every unsubscribe link already sent and detach stored opt-outs (README, app.json).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

_TOKEN_MAC_BYTES = 16
_TOKEN_BYTES = 4 + 32 + _TOKEN_MAC_BYTES
_PHONE_NOISE = re.compile(r"[\s().\-/]")


def normalize_email(email: str | None) -> str | None:
    """Trimmed and lowercased (how every platform and mailbox provider compares them)."""
    found = (email or "").strip().lower()
    return found if "@" in found else None


# What a person types as an address we will send to: one @, a dotted domain, nothing that
# would let a header or a list of addresses in (the admin page's test sends, opt-outs, sender).
_DELIVERABLE = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\.[^\s@<>()\[\],;:\".]{2,}")


def deliverable_email(typed: str | None) -> str | None:
    """The typed address normalized, or None unless it has the shape of a real one."""
    address = normalize_email(typed)
    return address if address is not None and _DELIVERABLE.fullmatch(address) else None


def normalize_phone(phone: str | None) -> str | None:
    """Digits, with a leading ``+`` when the number had one; separators dropped."""
    raw = _PHONE_NOISE.sub("", (phone or "").strip())
    plus, digits = raw.startswith("+"), raw.lstrip("+")
    if not digits.isdigit() or len(digits) < 5:
        return None
    return ("+" if plus else "") + digits


@dataclass(frozen=True)
class ContactKeys:
    hash_key: bytes
    link_key: bytes

    @classmethod
    def from_secret(cls, secret_key: str) -> "ContactKeys":
        def derive(purpose: bytes) -> bytes:
            return hmac.new(secret_key.encode(), b"cartbridge " + purpose, hashlib.sha256).digest()
        return cls(derive(b"contact hash"), derive(b"unsubscribe link"))

    def email_hash(self, email: str | None) -> str | None:
        value = normalize_email(email)
        return self._hash("email", value) if value else None

    def phone_hash(self, phone: str | None) -> str | None:
        value = normalize_phone(phone)
        return self._hash("phone", value) if value else None

    def _hash(self, kind: str, value: str) -> str:
        return hmac.new(self.hash_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def unsubscribe_token(self, shop_id: int, email_hash: str) -> str:
        body = struct.pack(">I", shop_id) + bytes.fromhex(email_hash)
        mac = hmac.new(self.link_key, body, hashlib.sha256).digest()[:_TOKEN_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def read_token(self, token: str) -> tuple[int, str] | None:
        """(shop id, email hash) of a genuine token; None for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _TOKEN_BYTES:
            return None
        body, mac = raw[:-_TOKEN_MAC_BYTES], raw[-_TOKEN_MAC_BYTES:]
        expected = hmac.new(self.link_key, body, hashlib.sha256).digest()[:_TOKEN_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            return None
        return struct.unpack(">I", body[:4])[0], body[4:].hex()


def unsubscribe_url(public_url: str, token: str, language: str | None = None) -> str:
    """The link every message carries (body and ``List-Unsubscribe``); ``lang`` picks the
    confirmation page's language (the message's own)."""
    url = f"{public_url.rstrip('/')}/u/{token}"
    return f"{url}?lang={language}" if language else url


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Makes the unsubscribe link of a message (shop + contact + the message's language)."""
    keys: ContactKeys
    public_url: str

    def url(self, shop_id: int, email: str | None, language: str | None = None) -> str | None:
        email_hash = self.keys.email_hash(email)
        if email_hash is None:
            return None
        return unsubscribe_url(self.public_url, self.keys.unsubscribe_token(shop_id, email_hash), language)
