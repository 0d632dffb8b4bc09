"""The connector protocol: what the webhook edge and the worker need from a platform module.

A connector is pure apart from ``client``: reading the envelope, verifying the
signature and normalizing a payload do no I/O, so they are unit-tested on fixtures.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol, Sequence

from bridge.discounts import DiscountSpec
from bridge.model import Envelope, Event, LineItem, Verification

Normalizer = Callable[[Envelope, Any], "Event | None"]


class Connector(Protocol):
    platform: str
    handled_topics: frozenset[str]    # keys of the module's TOPIC_HANDLERS table
    ignored_topics: frozenset[str]    # acknowledged, deliberately dropped (normalize -> None)

    def handshake(self, headers: Mapping[str, str], raw: bytes) -> bool:
        """True for an unsigned set-up ping to acknowledge with 200 and not store
        (WooCommerce sends ``webhook_id=N`` when a webhook is created)."""

    def read_envelope(self, shop_key: str, headers: Mapping[str, str], raw: bytes) -> Envelope:
        """Shop, topic and delivery identity. Called only after ``verify`` succeeded.

        Raises ``UnprocessableDelivery`` when the delivery cannot even be identified.
        """

    def verify(self, headers: Mapping[str, str], raw: bytes, secrets: Sequence[str]) -> Verification:
        """Check the signature over the raw bytes against any of ``secrets`` (rotation)."""

    def normalize(self, envelope: Envelope, payload: Any) -> Event | None:
        """Turn a parsed payload into a shared-model event; None = deliberately ignored.

        Raises ``UnprocessableDelivery`` (with a reason) for unknown topics or payloads
        that lack what the topic needs.
        """

    def store_client(self, credentials: "StoreCredentials", http: "PlatformHttp") -> "StoreClient":
        """The shop's API client (discount codes); does no I/O until a method is called."""

    def discount_link(self, domain: str, recovery_url: str | None, code: str,
                      items: Sequence[LineItem]) -> str | None:
        """A link back to the customer's cart/checkout that applies ``code`` by itself,
        or None when the platform has no such link for this cart (the code is then
        shown in the message and the plain recovery link is used). Pure."""

    def refresh_token(self, domain: str, tokens: "TokenSet", app_key: str, app_secret: str,
                      http: "PlatformHttp") -> "TokenSet | str":
        """New tokens from the refresh token (Shopify's expiring offline tokens), or an
        error message. Platforms without expiring tokens return a message saying so."""

    # --- install, webhook health and reconciliation (issue 6) ---------------------------
    sync_kinds: tuple[str, ...]           # what ``StoreClient.changes`` reads: ("checkouts", "orders") | ("orders",)
    webhook_topics: frozenset[str]        # the topics a connected shop must be subscribed to

    def webhook_address(self, public_url: str, shop_id: int) -> str:
        """Where this platform must deliver a shop's webhooks (our endpoint). Pure."""


# --- The store API: discount codes (and, later, webhook registration and sync) --------

class CallOutcome(str, enum.Enum):
    """What one store API operation came to, in terms the core can act on."""
    DONE = "done"          # created / found / deleted
    ABSENT = "absent"      # lookup: no such code; delete: already gone (both final, not errors)
    EXISTS = "exists"      # create: the code is taken already (an earlier attempt of ours): look it up
    RETRY = "retry"        # certainly not done (throttled, 429, 5xx, connect failure): try again later
    UNKNOWN = "unknown"    # may have been done (read timeout, dropped connection): look up before creating
    AUTH = "auth"          # 401: the access token expired or was revoked
    REFUSED = "refused"    # the platform said no (validation, missing scope): needs a person


@dataclass(frozen=True)
class StoreResult:
    outcome: CallOutcome
    platform_id: str | None = None        # Shopify discount node GID; WooCommerce coupon id
    error: str | None = None              # the platform's own message, short, no secrets
    retry_after: float | None = None      # seconds, when the platform said
    calls: int = 1                        # HTTP requests this operation made (benchmarks count them)
    data: Any = None                      # list_webhooks: tuple[WebhookInfo, ...]; changes: ChangePage


@dataclass(frozen=True)
class WebhookInfo:
    """One webhook subscription as the platform lists it."""
    platform_id: str                      # WooCommerce webhook id; Shopify WebhookSubscription GID
    topic: str                            # our spelling: "order.updated", "checkouts/create"
    address: str                          # the delivery URL
    active: bool = True                   # WooCommerce: status == "active" (Shopify lists only live ones)
    status: str = "active"                # the platform's own word (WooCommerce: active|paused|disabled)


@dataclass(frozen=True)
class SyncItem:
    """One record read back from the platform, shaped like the webhook body of ``topic`` so the
    connector's own normalizer reads it. ``key`` names this version of the record
    (id and updated_at): stored in the inbox as ``sync:<key>``, so reading it twice stores it once."""
    topic: str
    payload: dict
    key: str
    # When the platform last changed the record (aware UTC). The sync keeps its cursor when a
    # record changed while the pass was paging: with page-number paging (WooCommerce) such a
    # change moves the record to the end and shifts an unread one onto a page already read.
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ChangePage:
    """One page of records changed since a moment, oldest first."""
    items: tuple[SyncItem, ...]
    next_cursor: str | None = None        # None: this was the last page
    total: int | None = None              # records in all pages, when the platform says (progress bars)
    skipped: int = 0                      # records that cannot be keyed to a cart (e.g. a checkout without token)


@dataclass(frozen=True)
class StoreCredentials:
    """What a client needs to call one shop's API, decrypted just before use."""
    domain: str                           # myshopify domain, or the WooCommerce site URL
    access_token: str | None = None       # Shopify
    consumer_key: str | None = None       # WooCommerce
    consumer_secret: str | None = None    # WooCommerce


@dataclass
class PlatformHttp:
    """The HTTP plumbing platform clients share in one process (injected in tests).

    ``shopify`` is handed to ``shopifyapp`` (its ``http_client``): one keep-alive
    client per process. ``woocommerce_timeout`` goes to the ``woocommerce`` client.
    """
    shopify: Any                          # httpx.Client
    timeout: float = 10.0
    api_version: str = "2026-10"


@dataclass(frozen=True)
class TokenSet:
    """An access token and, for expiring tokens, its refresh token (aware UTC times)."""
    access_token: str
    expires_at: datetime | None = None
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None


class StoreClient(Protocol):
    """One shop's API, as the discount service uses it. Implementations never raise for
    HTTP or platform errors: every failure is a ``StoreResult`` with an outcome."""

    def create_discount(self, spec: DiscountSpec) -> StoreResult: ...

    def find_discount(self, code: str) -> StoreResult: ...

    def delete_discount(self, platform_id: str) -> StoreResult: ...

    def find_open_order(self, email: str, customer_id: str | None,
                        exclude_ids: Sequence[str] = ()) -> StoreResult:
        """Another order of this contact still pending or not yet delivered: DONE with the
        order's reference in ``platform_id`` when there is one, ABSENT when there is none.
        ``exclude_ids``: the platform ids of the contact's own carts (WooCommerce carts are
        pending orders themselves)."""

    def list_webhooks(self) -> StoreResult:
        """Our subscriptions on the platform: DONE with ``data`` = tuple[WebhookInfo, ...]."""

    def create_webhook(self, topic: str, address: str, secret: str | None) -> StoreResult:
        """Subscribe ``address`` to ``topic``; DONE with the new ``platform_id``. ``secret`` signs
        WooCommerce deliveries (Shopify signs with the app secret and ignores it)."""

    def enable_webhook(self, platform_id: str) -> StoreResult:
        """Switch a disabled subscription back on (WooCommerce ``status: active``)."""

    def delete_webhook(self, platform_id: str) -> StoreResult:
        """Remove a subscription; ABSENT when it is already gone."""

    def changes(self, kind: str, since: datetime, cursor: str | None = None) -> StoreResult:
        """One page of ``kind`` records (one of the connector's ``sync_kinds``) updated at or after
        ``since``, oldest first: DONE with ``data`` = ChangePage. Reads only: safe to repeat."""
