"""Everything a process needs, built once from settings: engine, sessions, secrets, channel.

Nothing connects at import time; ``Runtime.from_settings`` is called by the app factory,
the CLI and the worker. Tests build one per database.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge.channels.base import Channel
from bridge.contacts import ContactKeys, UnsubscribeLinks
from bridge.crypto import SecretBox
from bridge.db.engine import make_engine, make_sessionmaker
from bridge.services.dispatch import Dispatcher
from bridge.services.store_access import StoreAccess
from bridge.settings import Settings
from connectors.base import PlatformHttp


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox
    now: Callable[[], datetime] = utc_now
    # The HTTP plumbing for shops' APIs; built on first use, injected by tests.
    platform_http: PlatformHttp | None = None
    _owns_http: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, pool_size: int = 5,
                      now: Callable[[], datetime] = utc_now) -> "Runtime":
        engine = make_engine(settings.database_url, pool_size=pool_size)
        return cls(settings, engine, make_sessionmaker(engine), SecretBox(settings.encryption_keys), now)

    def store_access(self) -> StoreAccess:
        """Reaching shops' own APIs (discount codes), with token refresh."""
        if self.platform_http is None:
            import httpx
            self.platform_http = PlatformHttp(httpx.Client(timeout=self.settings.platform_timeout_seconds),
                                              self.settings.platform_timeout_seconds,
                                              self.settings.shopify_api_version)
            self._owns_http = True
        from connectors.registry import CONNECTORS
        return StoreAccess(self.sessions, self.box, CONNECTORS, self.platform_http, self.settings.shopify_api_key,
                           self.settings.shopify_api_secret, self.now)

    def contacts(self) -> ContactKeys:
        """Keys for contact hashes (opt-outs) and unsubscribe links, from ``SECRET_KEY``."""
        return ContactKeys.from_secret(self.settings.secret_key)

    def code_secret(self) -> bytes:
        """The key behind discount codes: stable per installation, never stored with them."""
        return hashlib.sha256(b"cartbridge discount codes:" + self.settings.secret_key.encode()).digest()

    def dispatcher(self, channel: Channel | None = None) -> Dispatcher:
        """The configured channel: SendGrid when a key is set (a shop's own key for its
        messages, see bridge.channels.routing), else the dev outbox."""
        if channel is None and self.settings.sendgrid_api_key:
            # The instance's SendGrid account, or a shop's own when it has set a key.
            from bridge.channels.routing import per_shop_sendgrid
            channel = per_shop_sendgrid(self)
        links = UnsubscribeLinks(self.contacts(), self.settings.public_url)
        common = dict(mail_from=self.settings.mail_from, now=self.now, links=links,
                      claim_seconds=self.settings.claim_seconds, access=self.store_access(),
                      code_secret=self.code_secret())
        if channel is None:
            from bridge.channels.outbox import OutboxChannel
            return Dispatcher(self.sessions, lambda session: OutboxChannel(session, self.now), True, **common)
        return Dispatcher(self.sessions, lambda _session: channel, channel.transactional,
                          in_flight=self.settings.send_concurrency, **common)

    def close(self) -> None:
        if self.platform_http is not None and self._owns_http:
            self.platform_http.shopify.close()
        self.engine.dispose()
