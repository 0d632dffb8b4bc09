"""Everything a process needs, built once from settings: engine, sessions, secrets, channel.

Nothing connects at import time; ``Runtime.from_settings`` is called by the app factory,
the CLI and the worker. Tests build one per database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.channels.base import Channel
from bridge.crypto import SecretBox
from bridge.db.engine import make_engine, make_sessionmaker
from bridge.services.dispatch import Dispatcher
from bridge.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox
    now: Callable[[], datetime] = utc_now

    @classmethod
    def from_settings(cls, settings: Settings, *, pool_size: int = 5,
                      now: Callable[[], datetime] = utc_now) -> "Runtime":
        engine = make_engine(settings.database_url, pool_size=pool_size)
        return cls(settings, engine, make_sessionmaker(engine), SecretBox(settings.encryption_keys), now)

    def dispatcher(self, channel: Channel | None = None) -> Dispatcher:
        """The configured channel: SendGrid when a key is set, else the dev outbox."""
        if channel is None and self.settings.sendgrid_api_key:
            from bridge.channels.sendgrid import SendGridChannel
            channel = SendGridChannel(self.settings.sendgrid_api_key, host=self.settings.sendgrid_api_host,
                                      timeout=self.settings.send_timeout_seconds)
        if channel is None:
            from bridge.channels.outbox import OutboxChannel
            return Dispatcher(self.sessions, lambda session: OutboxChannel(session, self.now), True,
                              self.settings.mail_from, self.now, self.settings.claim_seconds)
        return Dispatcher(self.sessions, lambda _session: channel, channel.transactional,
                          self.settings.mail_from, self.now, self.settings.claim_seconds,
                          in_flight=self.settings.send_concurrency)

    def close(self) -> None:
        self.engine.dispose()
