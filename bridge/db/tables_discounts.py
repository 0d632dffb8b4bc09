"""The discount-code table: one row per code we created (or meant to create) on a platform.

Kept apart from ``tables.py`` for size; ``tables.py`` imports it so the metadata is whole.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.tables import Base
from bridge.db.types import Money, UTCDateTime


class Discount(Base):
    """A code's life: ``creating`` (intent recorded before the platform call) -> ``active``
    -> ``redeemed`` by an order, or ``deleted`` from the platform once expired unused;
    ``refused`` when the platform said no; ``dropped`` when it was never created and
    is no longer wanted (the step went out without it, or the cart closed)."""
    __tablename__ = "discounts"
    __table_args__ = (
        # One code per cart and step, created once even across retries and crashes.
        UniqueConstraint("cart_id", "step", name="uq_discounts_cart_step"),
        # A code names one discount in a shop: how an order's discount_codes finds it.
        UniqueConstraint("shop_id", "code", name="uq_discounts_shop_code"),
        Index("ix_discounts_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="creating")
    platform_id: Mapped[str | None] = mapped_column(String(255))
    # A call may have reached the platform (timeout, crash mid-call): look the code up
    # before creating it again.
    lookup_first: Mapped[bool] = mapped_column(Boolean, default=False)
    create_calls: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(String(64))
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
