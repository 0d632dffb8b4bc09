"""The dev outbox: a channel that stores rendered messages in the database.

It is the default when no SendGrid key is set, so the whole loop runs with no
accounts. It writes in the caller's transaction (``transactional = True``): the
message lands in the outbox exactly when its step is marked sent, never otherwise.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session

from bridge.channels.base import OutboundMessage, Outcome, SendResult
from bridge.db.tables import OutboxEntry


class OutboxChannel:
    name = "outbox"
    transactional = True

    def __init__(self, session: Session, now: Callable[[], datetime]):
        self._session = session
        self._now = now

    def send(self, message: OutboundMessage) -> SendResult:
        entry = OutboxEntry(message_id=int(message.message_id), shop_id=message.shop_id,
                            to_email=message.to_email, from_email=message.from_email,
                            subject=message.subject, html=message.html, text=message.text,
                            headers=dict(message.headers), created_at=self._now())
        self._session.add(entry)  # flushed with the batch's outcomes, in the same transaction
        return SendResult(Outcome.SENT, provider_message_id=f"outbox-{message.message_id}")
