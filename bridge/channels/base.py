"""The channel protocol and the values that cross it.

A channel sends one rendered message and reports what happened in a way the worker
can act on without knowing the provider:

- SENT: the provider accepted it (``provider_message_id`` when it gives one);
- RETRY: nothing was accepted and trying again later is safe (429, 5xx, connection
  refused, connect timeout); ``retry_after`` seconds if the provider said so;
- FAILED: final, do not retry (other 4xx: bad key, bad address, ...);
- UNKNOWN: the request may have reached the provider (read timeout, connection reset
  after sending); the worker must not blindly send again.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping, Protocol


class Outcome(str, enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OutboundMessage:
    message_id: str                     # our id; echoed back by providers in custom args
    shop_id: int
    cart_id: int
    step: int                           # 1-based position in the sequence
    to_email: str
    from_email: str
    subject: str
    html: str
    text: str
    to_name: str | None = None
    from_name: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()

    @property
    def custom_args(self) -> dict[str, str]:
        """Ids a provider echoes on every event (SendGrid ``custom_args``)."""
        return {"message_id": self.message_id, "shop_id": str(self.shop_id),
                "cart_id": str(self.cart_id), "step": str(self.step)}


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None            # short, safe to store and show: no secrets, no body
    status_code: int | None = None
    retry_after: float | None = None


class Channel(Protocol):
    name: str
    # True when send() writes in the caller's database transaction, so a crash
    # before commit means "not sent" (the dev outbox); False for network providers.
    transactional: bool

    def send(self, message: OutboundMessage) -> SendResult: ...
