"""Admin users: accounts, the shops each may manage, and sign-in with a rate limit.

Passwords are hashed with werkzeug's scrypt. A sign-in is refused for a while after
too many failures for the same address (a guessing attack on one account) or from the
same client IP (one client trying many accounts); failures are stored as keyed hashes,
so the limit holds across every web process and keeps no addresses or IPs.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bridge.contacts import normalize_email
from bridge.db.tables import LoginFailure, Shop, User, UserShop

MIN_PASSWORD_LENGTH = 10
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 5
MAX_FAILURES_PER_CLIENT = 20
# Checked when the address is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("cartbridge: no such user")


class UserError(ValueError):
    """A user command cannot be done; the message says why."""


@dataclass(frozen=True)
class SignIn:
    user: User | None
    retry_after: timedelta | None = None     # set when the rate limit refused the attempt


def check_password(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if password.strip() != password:
        return "must not start or end with a space"
    return None


def add_user(session: Session, email: str, password: str, now: datetime, *, shops: list[Shop] = (),
             all_shops: bool = False) -> User:
    address = normalize_email(email)
    if address is None:
        raise UserError(f"not an email address: {email!r}")
    if session.scalars(select(User).where(User.email == address)).first() is not None:
        raise UserError(f"a user {address} already exists (use `users grant` or `users passwd`)")
    problem = check_password(password)
    if problem:
        raise UserError(f"password {problem}")
    user = User(email=address, password_hash=generate_password_hash(password), all_shops=all_shops,
                session_version=1, created_at=now)
    session.add(user)
    session.flush()
    for shop in shops:
        grant(session, user, shop)
    return user


def find_user(session: Session, email: str) -> User | None:
    address = normalize_email(email)
    return session.scalars(select(User).where(User.email == address)).first() if address else None


def grant(session: Session, user: User, shop: Shop) -> bool:
    """True when the grant is new (granting twice is the same grant)."""
    exists = session.scalars(select(UserShop).where(UserShop.user_id == user.id,
                                                    UserShop.shop_id == shop.id)).first()
    if exists is None:
        session.add(UserShop(user_id=user.id, shop_id=shop.id))
        session.flush()
    return exists is None


def revoke(session: Session, user: User, shop: Shop) -> bool:
    gone = session.execute(delete(UserShop).where(UserShop.user_id == user.id, UserShop.shop_id == shop.id))
    return gone.rowcount > 0


def set_password(user: User, password: str) -> None:
    problem = check_password(password)
    if problem:
        raise UserError(f"password {problem}")
    user.password_hash = generate_password_hash(password)
    user.session_version += 1      # every session opened with the old password ends


def shop_ids_for(session: Session, user: User) -> frozenset[int] | None:
    """The shops this user may manage; None means every shop (an agency owner)."""
    if user.all_shops:
        return None
    return frozenset(session.scalars(select(UserShop.shop_id).where(UserShop.user_id == user.id)))


def failure_key(secret: bytes, kind: str, value: str) -> str:
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def sign_in(session: Session, secret: bytes, email: str, password: str, client: str, now: datetime) -> SignIn:
    """Check the password unless the address or the client is over the failure limit."""
    address = normalize_email(email) or email.strip().lower()
    keys = {failure_key(secret, "address", address): MAX_FAILURES_PER_ADDRESS,
            failure_key(secret, "client", client): MAX_FAILURES_PER_CLIENT}
    since = now - FAILURE_WINDOW
    for key, limit in keys.items():
        recent = session.scalars(select(LoginFailure.failed_at).where(LoginFailure.key_hash == key,
                                                                     LoginFailure.failed_at > since)
                                 .order_by(LoginFailure.failed_at.desc()).limit(limit)).all()
        if len(recent) >= limit:
            return SignIn(None, retry_after=recent[-1] + FAILURE_WINDOW - now)
    user = session.scalars(select(User).where(User.email == address)).first()
    if user is None or not check_password_hash(user.password_hash if user else _DUMMY_HASH, password):
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
        session.execute(delete(LoginFailure).where(LoginFailure.failed_at < now - timedelta(days=1)))
        session.add_all(LoginFailure(key_hash=key, failed_at=now) for key in keys)
        return SignIn(None)
    user.last_login_at = now
    address_key = next(iter(keys))
    session.execute(delete(LoginFailure).where(LoginFailure.key_hash == address_key))
    return SignIn(user)


def failure_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LoginFailure)) or 0
