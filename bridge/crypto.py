"""Encryption at rest for shop credentials and webhook secrets (Fernet, rotating keys).

``ENCRYPTION_KEYS`` is a comma-separated list: the first key encrypts, every key
decrypts, so a new key can be put in front and old data re-encrypted at leisure
(``cartbridge keys rotate``).
"""
from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    def __init__(self, keys: tuple[str, ...]):
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def seal(self, plaintext: str | None) -> bytes | None:
        return None if plaintext is None else self._fernet.encrypt(plaintext.encode())

    def open(self, token: bytes | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted with ENCRYPTION_KEYS "
                             "(was a key removed before data was re-encrypted?)") from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the first key."""
        return self._fernet.rotate(bytes(token))


def mask(secret: str | None) -> str:
    """Show a secret as its last 4 characters only."""
    if not secret:
        return ""
    return "…" + secret[-4:] if len(secret) > 8 else "…"
