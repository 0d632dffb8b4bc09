"""Which shop a webhook is for, and its secrets: cached per process for a few seconds.

The intake answers every delivery with a database round trip for the INSERT anyway;
looking the shop up (and decrypting its secret) on every request too would double the
work on the hot path, and on SQLite would hold the write lock during verification.
Shop records change rarely; a new secret or a new shop takes effect within the TTL.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select

from bridge.db.tables import Shop

TTL_SECONDS = 30.0
UNKNOWN_TTL_SECONDS = 5.0   # short: a shop added from the CLI must start receiving soon


@dataclass(frozen=True)
class ShopKeys:
    shop_id: int
    secrets: tuple[str, ...]   # the shop's own webhook secrets (WooCommerce); empty for Shopify


class ShopDirectory:
    def __init__(self, runtime, clock: Callable[[], float] = time.monotonic):
        self._runtime = runtime
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, ShopKeys | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, platform: str, shop_key: str) -> ShopKeys | None:
        now = self._clock()
        with self._lock:
            cached = self._entries.get((platform, shop_key))
        if cached and cached[0] > now:
            return cached[1]
        keys = self._load(platform, shop_key)
        with self._lock:
            self._entries[(platform, shop_key)] = (now + (TTL_SECONDS if keys else UNKNOWN_TTL_SECONDS), keys)
        return keys

    def _load(self, platform: str, shop_key: str) -> ShopKeys | None:
        with self._runtime.sessions() as session:
            if platform == "woocommerce":
                shop = session.get(Shop, int(shop_key)) if shop_key.isdigit() else None
            else:
                shop = session.scalars(select(Shop).where(Shop.platform == platform, Shop.domain == shop_key)).first()
            if shop is None or shop.platform != platform:
                return None
            box = self._runtime.box
            secrets = tuple(s for s in (box.open(shop.webhook_secret_enc), box.open(shop.webhook_secret_previous_enc))
                            if s)
            return ShopKeys(shop.id, secrets)
