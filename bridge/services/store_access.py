"""Calling a shop's own API: decrypted credentials, the right client, token refresh.

Shopify's expiring offline tokens live 60 minutes and come with a *rotating* refresh
token: the old one stops working once used. So a refresh happens under a lock on the
shop row, and a caller that finds the token already changed by another worker uses
the new one instead of refreshing again (which would fail with a spent token).
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.crypto import SecretBox
from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop
from connectors.base import (CallOutcome, Connector, PlatformHttp, StoreClient, StoreCredentials, StoreResult,
                             TokenSet)

log = logging.getLogger(__name__)
REFRESH_AHEAD = timedelta(minutes=5)   # refresh a token this close to expiry before using it
# Refresh failures that say nothing about the refresh token (``shopifyapp`` log codes):
# the platform was unreachable or failing, so the call is retried later, not held.
TRANSIENT_REFRESH = ("network_error", "server_error")


@dataclass(frozen=True)
class ShopKeys:
    """What a job needs to reach one shop, read in the planning transaction."""
    shop_id: int
    platform: str
    credentials: StoreCredentials
    expires_at: datetime | None = None


@dataclass
class StoreAccess:
    sessions: sessionmaker[Session]
    box: SecretBox
    connectors: Mapping[str, Connector]
    http: PlatformHttp
    app_key: str | None
    app_secret: str | None
    now: Callable[[], datetime]

    def keys(self, shop: Shop) -> ShopKeys:
        creds = StoreCredentials(domain=shop.domain, access_token=self.box.open(shop.access_token_enc),
                                 consumer_key=self.box.open(shop.consumer_key_enc),
                                 consumer_secret=self.box.open(shop.consumer_secret_enc))
        return ShopKeys(shop.id, shop.platform, creds, shop.access_token_expires_at)

    def call(self, keys: ShopKeys, operation: Callable[[StoreClient], StoreResult]) -> StoreResult:
        """Run ``operation`` against the shop; refresh the token ahead of expiry or after a 401, once."""
        if keys.expires_at is not None and keys.expires_at - REFRESH_AHEAD <= self.now():
            fresh = self.refresh(keys)
            keys = fresh if isinstance(fresh, ShopKeys) else keys
        result = operation(self._client(keys))
        if result.outcome != CallOutcome.AUTH:
            return result
        fresh = self.refresh(keys)
        if isinstance(fresh, str) and fresh.startswith(TRANSIENT_REFRESH):
            return replace(result, outcome=CallOutcome.RETRY, error=f"token refresh failed for now: {fresh}")
        if isinstance(fresh, str):
            return replace(result, outcome=CallOutcome.REFUSED,
                           error=f"the shop's access token was rejected and could not be refreshed: {fresh}")
        second = operation(self._client(fresh))
        if second.outcome == CallOutcome.AUTH:
            second = replace(second, outcome=CallOutcome.REFUSED, error="the shop's access token was rejected "
                             "even after a refresh; reinstall or reconnect the shop")
        return replace(second, calls=second.calls + result.calls)

    def refresh(self, keys: ShopKeys) -> ShopKeys | str:
        """New keys for the shop (or the ones another worker just stored), or why not."""
        with unit_of_work(self.sessions) as session:
            shop = session.scalars(select(Shop).where(Shop.id == keys.shop_id).with_for_update()
                                   .execution_options(populate_existing=True)).one()
            current = self.keys(shop)
            if current.credentials.access_token != keys.credentials.access_token:
                return current                      # refreshed by someone else meanwhile
            if shop.refresh_token_enc is None:
                return "no refresh token is stored for this shop"
            tokens = TokenSet(current.credentials.access_token or "", shop.access_token_expires_at,
                              self.box.open(shop.refresh_token_enc), shop.refresh_token_expires_at)
            fresh = self.connectors[shop.platform].refresh_token(
                shop.domain, tokens, self.app_key or "", self.app_secret or "", self.http)
            if isinstance(fresh, str):
                log.warning("token refresh failed", extra={"shop_id": shop.id, "code": "token_refresh_failed"})
                return fresh
            store_tokens(shop, self.box, fresh)
            log.info("token refreshed", extra={"shop_id": shop.id, "code": "token_refreshed"})
            return self.keys(shop)

    def _client(self, keys: ShopKeys) -> StoreClient:
        return self.connectors[keys.platform].store_client(keys.credentials, self.http)


def store_tokens(shop: Shop, box: SecretBox, tokens: TokenSet) -> None:
    """Keep a token set on the shop, encrypted (used by refresh and by installation)."""
    shop.access_token_enc = box.seal(tokens.access_token)
    shop.access_token_expires_at = tokens.expires_at
    shop.refresh_token_enc = box.seal(tokens.refresh_token)
    shop.refresh_token_expires_at = tokens.refresh_token_expires_at
