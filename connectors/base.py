"""The connector protocol: what the webhook edge and the worker need from a platform module.

A connector is pure apart from ``client``: reading the envelope, verifying the
signature and normalizing a payload do no I/O, so they are unit-tested on fixtures.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol, Sequence

from bridge.model import Envelope, Event, Verification

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
