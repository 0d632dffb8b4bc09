"""A hand-written fake of one platform's store API, for the install, sync and webhook-health
service tests: it answers from a script and records every call.

The real-server stories (tests/servers, driven through the real client libraries) check
the clients; this fake lets a service test say exactly what the platform answers,
failures included, page by page. Records are the platforms' own webhook bodies from
tests/fixtures, dated by the test.
"""
from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import datetime
from typing import Callable

from bridge.services.store_access import StoreAccess
from connectors.base import CallOutcome, ChangePage, PlatformHttp, StoreResult, SyncItem, WebhookInfo
from connectors.registry import CONNECTORS
from tests.support.fixtures import load_fixture

REAL = dict(CONNECTORS)    # taken before a test puts a fake in the registry

KINDS = {"shopify": ("checkouts", "orders"), "woocommerce": ("orders",)}
TOPICS = {"shopify": frozenset({"checkouts/create", "checkouts/update", "checkouts/delete", "orders/create",
                                "orders/paid", "app/uninstalled", "customers_email_marketing_consent/update"}),
          "woocommerce": frozenset({"order.created", "order.updated", "order.deleted"})}
ADDRESSES = {"shopify": lambda url, shop_id: f"{url}/webhooks/shopify",
             "woocommerce": lambda url, shop_id: f"{url}/webhooks/woocommerce/{shop_id}"}


class FakePlatform:
    """One platform's API for every shop of a test: scripted pages, live webhook list, calls."""

    def __init__(self, platform: str = "shopify"):
        self.platform = platform
        self.pages: dict[str, list[ChangePage | StoreResult]] = {}   # kind -> answers, in page order
        self.webhooks: dict[str, WebhookInfo] = {}                  # platform id -> subscription
        self.secrets: dict[str, str | None] = {}                    # platform id -> signing secret
        self.fail: dict[str, StoreResult] = {}                      # method -> its answer, every time
        self.calls: list[tuple] = []
        self.during_call: Callable[[], None] | None = None          # runs inside every call
        self._next_id = 100

    def connector(self) -> "FakeConnector":
        return FakeConnector(self)

    def access(self, runtime) -> StoreAccess:
        """A StoreAccess whose clients are this fake (token refresh as in production)."""
        return StoreAccess(runtime.sessions, runtime.box, {self.platform: self.connector()}, PlatformHttp(None),
                           runtime.settings.shopify_api_key, runtime.settings.shopify_api_secret, runtime.now)

    def add_webhook(self, topic: str, address: str, *, status: str = "active") -> str:
        platform_id = str(self._next_id)
        self._next_id += 1
        self.webhooks[platform_id] = WebhookInfo(platform_id, topic, address, status == "active", status)
        return platform_id

    def methods(self) -> list[str]:
        return [call[0] for call in self.calls]


class FakeConnector:
    """The platform's real connector (normalizers, verification) with the fake store API,
    so it can stand in the registry while the worker runs."""

    def __init__(self, fake: FakePlatform):
        self.fake, self.platform = fake, fake.platform
        self.sync_kinds, self.webhook_topics = KINDS[fake.platform], TOPICS[fake.platform]
        self._real = REAL[fake.platform]

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def webhook_address(self, public_url: str, shop_id: int) -> str:
        return ADDRESSES[self.platform](public_url, shop_id)

    def store_client(self, credentials, http) -> "FakeStore":
        return FakeStore(self.fake, credentials)

    def refresh_token(self, domain, tokens, app_key, app_secret, http):
        return "the fake platform has no expiring tokens"


class FakeStore:
    def __init__(self, fake: FakePlatform, credentials):
        self.fake, self.credentials = fake, credentials

    def _call(self, method: str, *args) -> StoreResult | None:
        self.fake.calls.append((method, *args))
        if self.fake.during_call is not None:
            self.fake.during_call()
        return self.fake.fail.get(method)

    def changes(self, kind: str, since: datetime, cursor: str | None = None) -> StoreResult:
        failed = self._call("changes", kind, since, cursor)
        if failed is not None:
            return failed
        script = self.fake.pages.get(kind, [])
        index = int(cursor or 0)
        answer = script[index] if index < len(script) else ChangePage(())
        if isinstance(answer, StoreResult):
            return answer
        last = index + 1 >= len(script)
        return StoreResult(CallOutcome.DONE, data=replace(answer, next_cursor=None if last else str(index + 1)))

    def find_open_order(self, email: str, customer_id: str | None, exclude_ids=()) -> StoreResult:
        return self._call("find_open_order") or StoreResult(CallOutcome.ABSENT)

    def list_webhooks(self) -> StoreResult:
        return self._call("list_webhooks") or StoreResult(CallOutcome.DONE, data=tuple(self.fake.webhooks.values()))

    def create_webhook(self, topic: str, address: str, secret: str | None) -> StoreResult:
        failed = self._call("create_webhook", topic, address)
        if failed is not None:
            return failed
        platform_id = self.fake.add_webhook(topic, address)
        self.fake.secrets[platform_id] = secret
        return StoreResult(CallOutcome.DONE, platform_id=platform_id)

    def enable_webhook(self, platform_id: str) -> StoreResult:
        failed = self._call("enable_webhook", platform_id)
        if failed is not None:
            return failed
        self.fake.webhooks[platform_id] = replace(self.fake.webhooks[platform_id], active=True, status="active")
        return StoreResult(CallOutcome.DONE, platform_id=platform_id)

    def delete_webhook(self, platform_id: str) -> StoreResult:
        failed = self._call("delete_webhook", platform_id)
        if failed is not None:
            return failed
        gone = self.fake.webhooks.pop(platform_id, None) is None
        return StoreResult(CallOutcome.ABSENT if gone else CallOutcome.DONE, platform_id=platform_id)


# -- records, shaped like the platforms' webhook bodies (tests/fixtures)

def _fixture(platform: str, name: str) -> dict:
    return copy.deepcopy(json.loads(load_fixture(platform, name)))


def shopify_checkout(token: str, updated_at: datetime, *, email: str = "anna@example.com") -> SyncItem:
    """An abandoned checkout as reconciliation hands it over: a ``checkouts/update`` body."""
    payload = _fixture("shopify", "checkouts_create__reference.json")
    payload.update(token=token, cart_token=f"cart-{token}", email=email, updated_at=updated_at.isoformat(),
                   abandoned_checkout_url=f"https://shop.example/checkouts/{token}/recover?key=k")
    return SyncItem("checkouts/update", payload, f"checkouts/update:{token}:{updated_at.isoformat()}")


def shopify_order(order_id: int, placed_at: datetime, *, email: str = "anna@example.com") -> SyncItem:
    """An order read back through GraphQL: an ``orders/create`` body without tokens."""
    payload = _fixture("shopify", "orders_create__null_tokens.json")
    stamp = placed_at.isoformat()
    payload.update(id=order_id, email=email, contact_email=email, created_at=stamp, processed_at=stamp,
                   updated_at=stamp)
    payload["customer"] = {**(payload.get("customer") or {}), "email": email}
    return SyncItem("orders/create", payload, f"orders/create:{order_id}:{stamp}")


def woo_order(order_id: int, modified_at: datetime, *, status: str = "pending",
              email: str = "olena@example.com") -> SyncItem:
    """A REST order: already shaped like an ``order.updated`` body."""
    payload = _fixture("woocommerce", "order_updated__pending.json")
    stamp = modified_at.strftime("%Y-%m-%dT%H:%M:%S")
    payload.update(id=order_id, status=status, date_modified_gmt=stamp, date_modified=stamp, date_created_gmt=stamp,
                   date_created=stamp)
    payload["billing"] = {**payload["billing"], "email": email}
    return SyncItem("order.updated", payload, f"order.updated:{order_id}:{stamp}")
