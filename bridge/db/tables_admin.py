"""Tables for the admin page: users, which shops each may manage, failed sign-ins.

Kept apart from ``tables.py`` for size; ``tables.py`` imports it so the metadata is whole.
Passwords are stored only as werkzeug hashes (scrypt); failed sign-ins only as keyed
hashes of the address and of the client IP, so the rate limit keeps no personal data.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.db.tables import Base
from bridge.db.types import UTCDateTime


class User(Base):
    """A person who signs in to the standalone admin page (embedded users come from Shopify)."""
    __tablename__ = "users"
    # One account per address: `users add` twice must not create a second password.
    __table_args__ = (UniqueConstraint("email", name="uq_users_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))           # lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    # Agency owners: every shop of the instance, present and future.
    all_shops: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on a password change or removal: signs out every session issued before.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserShop(Base):
    """A grant: this user may manage this shop (agency staff see only their clients)."""
    __tablename__ = "user_shops"
    # Granting twice is the same grant.
    __table_args__ = (UniqueConstraint("user_id", "shop_id", name="uq_user_shops_user_shop"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))


class LoginFailure(Base):
    """One failed sign-in, counted per address and per client IP by the login rate limit."""
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key_hash", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
