"""Tables for installing shops and keeping them in step: reconciliation and webhook health
per shop, and the one-time requests behind an install or a connect.

Kept apart from ``tables.py`` for size; ``tables.py`` imports it so the metadata is whole.
A shop with a ``shop_sync`` row is one cartbridge reconciles (``bridge.services.sync``)
and whose webhooks it checks (``bridge.services.webhook_health``): install and connect
create the row, and so does the first ``cartbridge sync SHOP`` of a shop added by hand.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.tables import Base
from bridge.db.types import UTCDateTime


class ShopSync(Base):
    """One shop's reconciliation and webhook-health state (one row per shop)."""
    __tablename__ = "shop_sync"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    # {kind: iso moment}: the start of the last sync that read every page of that kind.
    cursors: Mapped[dict] = mapped_column(JSON, default=dict)
    next_sync_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set while a worker (or `cartbridge sync`) reads the shop: a second one keeps off.
    sync_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    last_sync_count: Mapped[int | None] = mapped_column(Integer)     # records new to the inbox
    # Set on install: the next sync reads from here instead of from the cursors.
    backfill_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_health_at: Mapped[datetime] = mapped_column(UTCDateTime)
    health_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    health_note: Mapped[str | None] = mapped_column(Text)            # for the merchant, English
    health_note_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # {topic: platform id} of the subscriptions cartbridge registered; disconnect deletes them.
    webhook_ids: Mapped[dict] = mapped_column(JSON, default=dict)


class InstallRequest(Base):
    """An install or connect in progress: the OAuth ``state`` (Shopify) or the ``user_id``
    handed to ``/wc-auth/v1/authorize`` (WooCommerce), valid for one hour, used once."""
    __tablename__ = "install_requests"
    # A state is honoured once: a replayed callback finds its request already used, and a
    # nonce collision is an error rather than a second request answering to the same value.
    __table_args__ = (UniqueConstraint("nonce", name="uq_install_requests_nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(255))        # the shop's domain or the store's URL
    # The admin user who started it (None: started from the platform's own install link).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
