"""Tables for opt-outs, sending manners, provider events, privacy requests and periodic jobs.

Kept apart from ``tables.py`` for size; ``tables.py`` imports it so the metadata is whole.
Contacts are stored as keyed hashes (``bridge.contacts.contact_hash``), never as the
address itself, except ``OptOut.display``, which the merchant sees until the customer
is redacted.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.tables import Base
from bridge.db.types import UTCDateTime


class OptOut(Base):
    """A contact who must never be reminded by this shop (unsubscribed, bounced, complained).

    It outlives everything else: redaction erases ``display`` and keeps the hash, so a
    customer who unsubscribed and then asked to be forgotten still gets nothing.
    """
    __tablename__ = "opt_outs"
    # One row per shop and contact: opting out twice is the same fact (first source kept),
    # and resubscribing flips ``active`` on that row rather than deleting the evidence.
    __table_args__ = (UniqueConstraint("shop_id", "contact_hash", name="uq_opt_outs_shop_contact"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    contact_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))                   # email | phone
    display: Mapped[str | None] = mapped_column(String(320))       # the address, until redacted
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(32))                # link | one_click | merchant | sendgrid_* ...
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(64))     # "customer", "sendgrid", "cli", a user
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(64))


class ContactLedger(Base):
    """Per shop and contact: when the last message was claimed (frequency cap) and when
    the current sequence began (re-entry cooldown)."""
    __tablename__ = "contact_ledger"
    # The row is the lock: workers claiming two carts of one customer serialize on it,
    # so "one message per window" holds across any number of workers.
    __table_args__ = (UniqueConstraint("shop_id", "contact_hash", name="uq_contact_ledger_shop_contact"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    contact_hash: Mapped[str] = mapped_column(String(64))
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_step_id: Mapped[int | None] = mapped_column(Integer)
    sequence_cart_id: Mapped[int | None] = mapped_column(Integer)
    sequence_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OpenOrderCheck(Base):
    """The platform's last answer to "does this contact have another order still open?"."""
    __tablename__ = "open_order_checks"
    # A cache entry per shop and contact, overwritten by each fresh answer.
    __table_args__ = (UniqueConstraint("shop_id", "contact_hash", name="uq_open_order_checks_shop_contact"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    contact_hash: Mapped[str] = mapped_column(String(64))
    open_order: Mapped[str | None] = mapped_column(String(255))    # the platform's order ref, None: none open
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProviderEvent(Base):
    """One email provider event (SendGrid Event Webhook), stored verified before 200."""
    __tablename__ = "provider_events"
    # SendGrid retries a whole batch when we fail to answer: ``sg_event_id`` makes every
    # redelivered (or replayed) event a no-op.
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_provider_events_event"),
                      Index("ix_provider_events_status_id", "status", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[int | None] = mapped_column(Integer)        # our messages.id, from custom_args
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))  # the message's
    body: Mapped[bytes] = mapped_column(LargeBinary)               # the event's JSON object
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")   # pending|processed|ignored|dead
    reason: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PrivacyRequest(Base):
    """A privacy request and what was done: a data export (its JSON kept for the merchant)
    or an erasure. Holds no contact in clear: the hash says whom it was about."""
    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_shop_created", "shop_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))                  # export | erase
    source: Mapped[str] = mapped_column(String(32))                # shopify | cli
    reference: Mapped[str | None] = mapped_column(String(64))      # Shopify data_request.id
    contact_hash: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict | None] = mapped_column(JSON)              # the export, or erasure counts
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """When a periodic job (retention purge) last ran; one row per job."""
    __tablename__ = "job_runs"

    # The name is the key: a compare-and-set on ``last_run_at`` lets one worker of many run it.
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
