"""Per-shop SendGrid keys: each message goes out through its shop's own SendGrid account when
the shop has set a key (admin Settings page), else through the instance's default channel.

- Keys are read from the database in bulk and kept for ``KEYS_TTL`` (time from the injected
  clock), so a send costs no query; a changed or removed key takes effect within that time.
- A SendGrid channel per distinct key, built on first use and dropped when its key is gone.
- Thread-safe: the dispatcher sends from a thread pool; one lock guards both caches (the
  reload query runs under it at most once per ``KEYS_TTL``).
- Wired by ``Runtime.dispatcher()`` only when the instance itself sends through SendGrid
  (``SENDGRID_API_KEY`` set). In dev-outbox mode every message stays in the outbox, shop
  keys or not: that keeps the demo and the tests from ever emailing real people.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.channels.base import Channel, OutboundMessage, SendResult
from bridge.crypto import SecretBox
from bridge.db.tables import Shop

log = logging.getLogger(__name__)
KEYS_TTL = timedelta(seconds=60)


class ShopKeyRoutingChannel:
    """A Channel that picks the SendGrid account by ``message.shop_id``."""

    name = "sendgrid"
    transactional = False

    def __init__(self, default: Channel, sessions: sessionmaker[Session], box: SecretBox,
                 channel_for_key: Callable[[str], Channel], now: Callable[[], datetime],
                 ttl: timedelta = KEYS_TTL) -> None:
        self._default = default
        self._sessions = sessions
        self._box = box
        self._channel_for_key = channel_for_key
        self._now = now
        self._ttl = ttl
        self._lock = threading.Lock()
        self._keys: dict[int, str] = {}
        self._loaded_at: datetime | None = None
        self._channels: dict[str, Channel] = {}

    def __repr__(self) -> str:  # never the keys
        return f"ShopKeyRoutingChannel(default={self._default!r}, shops_with_keys={len(self._keys)})"

    def send(self, message: OutboundMessage) -> SendResult:
        return self.channel_for(message.shop_id).send(message)

    def channel_for(self, shop_id: int) -> Channel:
        with self._lock:
            key = self._current_keys().get(shop_id)
            if key is None:
                return self._default
            if key not in self._channels:
                self._channels[key] = self._channel_for_key(key)
            return self._channels[key]

    def _current_keys(self) -> dict[int, str]:
        now = self._now()
        if self._loaded_at is None or now - self._loaded_at >= self._ttl or now < self._loaded_at:
            self._keys = self._load_keys()
            self._loaded_at = now
            # A replaced or removed key's channel is not needed any more.
            live = set(self._keys.values())
            self._channels = {k: c for k, c in self._channels.items() if k in live}
        return self._keys

    def _load_keys(self) -> dict[int, str]:
        with self._sessions() as session:
            rows = session.execute(select(Shop.id, Shop.sendgrid_api_key_enc)
                                   .where(Shop.sendgrid_api_key_enc.is_not(None))).all()
        keys = {}
        for shop_id, sealed in rows:
            try:
                keys[shop_id] = self._box.open(sealed)
            except ValueError:
                # ENCRYPTION_KEYS lost the key it was sealed with: the instance's account
                # is tried rather than stopping the shop's reminders; the merchant re-types it.
                log.error("shop sendgrid key cannot be decrypted; using the instance key",
                          extra={"shop_id": shop_id, "code": "shop_sendgrid_key_unreadable"})
        return keys


def per_shop_sendgrid(runtime) -> ShopKeyRoutingChannel:
    """The instance's SendGrid channel, with each shop's own key taking over for its messages."""
    from bridge.channels.sendgrid import SendGridChannel
    settings = runtime.settings

    def sendgrid_with(key: str, asm_group_id: int | None = None) -> Channel:
        return SendGridChannel(key, host=settings.sendgrid_api_host, timeout=settings.send_timeout_seconds,
                               asm_group_id=asm_group_id)

    # The unsubscribe group id names a group in the instance's account; a shop's own account
    # does not have it (SendGrid would refuse the send), so shop keys send without one.
    default = sendgrid_with(settings.sendgrid_api_key, settings.sendgrid_unsubscribe_group_id)
    return ShopKeyRoutingChannel(default, runtime.sessions, runtime.box, sendgrid_with, runtime.now)
