"""The tables. Every UNIQUE constraint here is an idempotency rule; each says why.

Times are aware UTC (``UTCDateTime``), money is exact (``Money``) next to its currency.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bridge.db.types import Money, UTCDateTime


class Base(DeclarativeBase):
    pass


class Shop(Base):
    __tablename__ = "shops"
    # One record per store: `shops add` twice for the same store must not split its carts.
    __table_args__ = (UniqueConstraint("platform", "domain", name="uq_shops_platform_domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    domain: Mapped[str] = mapped_column(String(255))      # myshopify domain or store URL
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    abandon_after_minutes: Mapped[int] = mapped_column(Integer, default=60)
    order_match_window_minutes: Mapped[int] = mapped_column(Integer, default=30 * 24 * 60)
    sender_name: Mapped[str | None] = mapped_column(String(255))
    sender_email: Mapped[str | None] = mapped_column(String(320))
    access_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    consumer_key_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    consumer_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_secret_previous_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Shopify's expiring offline tokens: refreshed with the (rotating) refresh token.
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Discounts: what to do when the platform refuses a code, the optional
    # "code expires soon" reminder, and the last refusal (shown by `shops status`).
    send_without_discount: Mapped[bool] = mapped_column(Boolean, default=False)
    expiry_reminder_hours: Mapped[int | None] = mapped_column(Integer)
    discount_error: Mapped[str | None] = mapped_column(Text)
    discount_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consent and sending manners (bridge.manners), each checked at send time.
    consent_policy: Mapped[str] = mapped_column(String(16), default="first_only")
    frequency_cap_hours: Mapped[int] = mapped_column(Integer, default=16)      # 0: off
    quiet_hours_start: Mapped[int] = mapped_column(Integer, default=21)        # local hour; start == end: off
    quiet_hours_end: Mapped[int] = mapped_column(Integer, default=8)
    reentry_cooldown_days: Mapped[int] = mapped_column(Integer, default=7)     # 0: off
    open_order_check: Mapped[bool] = mapped_column(Boolean, default=True)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The shop's own SendGrid key (admin settings; write-only, shown masked to its last 4).
    sendgrid_api_key_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Install and connect (bridge.services.install). Who keeps the webhook subscriptions:
    # "shopify" (app-specific ones declared in shopify.app.toml, invisible to the API),
    # "cartbridge" (created through the API; the health job recreates missing ones),
    # None (nobody: a shop added by hand, whose webhooks the merchant registered).
    webhooks_managed_by: Mapped[str | None] = mapped_column(String(16))
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[str | None] = mapped_column(String(255))       # as granted, comma-separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    steps: Mapped[list["SequenceStep"]] = relationship(
        order_by="SequenceStep.position", cascade="all, delete-orphan")


class SequenceStep(Base):
    __tablename__ = "sequence_steps"
    # A shop's sequence has one definition per position.
    __table_args__ = (UniqueConstraint("shop_id", "position", name="uq_sequence_steps_shop_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)           # 1-based
    delay_minutes: Mapped[int] = mapped_column(Integer)      # after abandonment
    channel: Mapped[str] = mapped_column(String(16), default="email")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    discount_kind: Mapped[str] = mapped_column(String(16), default="none")
    discount_value: Mapped[Decimal | None] = mapped_column(Money)
    discount_valid_hours: Mapped[int] = mapped_column(Integer, default=72)
    discount_minimum: Mapped[Decimal | None] = mapped_column(Money)
    discount_new_customers_only: Mapped[bool] = mapped_column(Boolean, default=False)
    discount_code_prefix: Mapped[str] = mapped_column(String(12), default="CB-")


class Template(Base):
    __tablename__ = "templates"
    # A merchant's override per step and language replaces the default, never stacks.
    __table_args__ = (UniqueConstraint("shop_id", "step", "language", name="uq_templates_shop_step_language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Delivery(Base):
    """The inbox: every verified webhook, stored raw before it is acknowledged."""
    __tablename__ = "webhook_deliveries"
    # A platform redelivering the same webhook hits this key: acknowledged, not re-processed.
    __table_args__ = (UniqueConstraint("shop_id", "delivery_key", name="uq_deliveries_shop_key"),
                      Index("ix_deliveries_status_id", "status", "id"),
                      # The admin page: a shop's last webhook and its recent errors.
                      Index("ix_deliveries_shop_received", "shop_id", "received_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(128))
    delivery_key: Mapped[str] = mapped_column(String(255))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)   # safe headers only, never the signature
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|processed|ignored|dead
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cart_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Cart(Base):
    __tablename__ = "carts"
    # One cart per platform checkout: the upsert target for every checkout webhook.
    __table_args__ = (UniqueConstraint("shop_id", "external_id", name="uq_carts_shop_external"),
                      Index("ix_carts_shop_email", "shop_id", "email"),
                      Index("ix_carts_shop_cart_token", "shop_id", "cart_token"),
                      Index("ix_carts_shop_customer", "shop_id", "customer_id"),
                      Index("ix_carts_shop_email_hash", "shop_id", "email_hash"),
                      Index("ix_carts_shop_phone_hash", "shop_id", "phone_hash"),
                      Index("ix_carts_state_abandon_at", "state", "abandon_at"),
                      # The admin page: dashboard figures by abandonment day, newest carts first.
                      Index("ix_carts_shop_abandoned_at", "shop_id", "abandoned_at"),
                      Index("ix_carts_shop_updated_at", "shop_id", "updated_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    cart_token: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(255))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(35))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    recovery_url: Mapped[str | None] = mapped_column(Text)
    accepts_marketing: Mapped[bool | None] = mapped_column(Boolean)
    # Keyed hashes of the normalized contact (bridge.contacts): how opt-outs, privacy
    # requests and the frequency cap find a customer's carts without comparing raw text.
    email_hash: Mapped[str | None] = mapped_column(String(64))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    timezone: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="open")
    platform_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    abandon_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_id: Mapped[str | None] = mapped_column(String(64))
    order_total: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    items: Mapped[list["CartItem"]] = relationship(
        order_by="CartItem.position", cascade="all, delete-orphan")


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("cart_id", "position", name="uq_cart_items_cart_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    variant_title: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    product_id: Mapped[str | None] = mapped_column(String(64))
    variant_id: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str | None] = mapped_column(String(255))
    image_url: Mapped[str | None] = mapped_column(Text)
    product_url: Mapped[str | None] = mapped_column(Text)


class ReminderStep(Base):
    __tablename__ = "reminder_steps"
    # A step is planned once per cart; re-planning updates the row, never adds another.
    __table_args__ = (UniqueConstraint("cart_id", "position", name="uq_reminder_steps_cart_position"),
                      Index("ix_reminder_steps_status_due", "status", "due_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16), default="email")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending|claimed|sent|cancelled|skipped|failed|unknown|held (platform refused its code)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Message(Base):
    __tablename__ = "messages"
    # One message per cart+step: the guard against ever sending the same reminder twice.
    __table_args__ = (UniqueConstraint("step_id", name="uq_messages_step"),
                      Index("ix_messages_cart", "cart_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("reminder_steps.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    to_email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="sending")  # sending|sent|retrying|failed|unknown
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the provider's events said afterwards (SendGrid Event Webhook); first time each.
    provider_status: Mapped[str | None] = mapped_column(String(32))   # the latest event's type
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    complained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageAttempt(Base):
    __tablename__ = "message_attempts"
    # Attempt numbers are unique per message so two workers cannot both log "attempt 2".
    __table_args__ = (UniqueConstraint("message_id", "number", name="uq_message_attempts_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))   # None while the call is in flight
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class OutboxEntry(Base):
    """The dev outbox: what would have been emailed, kept for `cartbridge outbox`."""
    __tablename__ = "outbox"
    # Written in the same transaction that marks the message sent: a message lands once.
    __table_args__ = (UniqueConstraint("message_id", name="uq_outbox_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None for a merchant's test send from the admin page (no reminder, no message row).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="reminder")    # reminder | test
    to_email: Mapped[str] = mapped_column(String(320))
    from_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    """Orders seen, kept so a checkout webhook arriving *after* its order converts at once."""
    __tablename__ = "orders"
    # orders/create and orders/paid (or a redelivery) describe the same order: record it once.
    __table_args__ = (UniqueConstraint("shop_id", "order_id", name="uq_orders_shop_order"),
                      Index("ix_orders_shop_checkout_ref", "shop_id", "checkout_ref"),
                      Index("ix_orders_shop_cart_token", "shop_id", "cart_token"),
                      Index("ix_orders_shop_email", "shop_id", "email"),
                      Index("ix_orders_shop_customer", "shop_id", "customer_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(String(64))
    checkout_ref: Mapped[str | None] = mapped_column(String(255))
    cart_token: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


from bridge.db.tables_discounts import Discount  # noqa: E402,F401  (its own module, for size)
from bridge.db.tables_privacy import (ContactLedger, JobRun, OpenOrderCheck, OptOut,  # noqa: E402,F401
                                      PrivacyRequest, ProviderEvent)
from bridge.db.tables_admin import LoginFailure, User, UserShop  # noqa: E402,F401
from bridge.db.tables_sync import InstallRequest, ShopSync  # noqa: E402,F401
