"""Opt-outs: record one (unsubscribe link, one-click, provider suppression, merchant),
make it take effect at once, undo it only on request, and answer "is this contact out?".

An opt-out is global for the shop and the contact: the email and, when this contact's
carts carry one, the phone. Recording it cancels every open step of every cart of that
contact (claimed ones too: a step claimed but not yet prepared never goes out, see
``outcomes.prepare_batch``) and suppresses the live carts. It is stored as a keyed hash
(``bridge.contacts``) so it survives the customer's redaction.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bridge.contacts import ContactKeys
from bridge.db.tables import Cart, OptOut, ReminderStep
from bridge.db.upsert import insert_ignore
from bridge.model import CartState

log = logging.getLogger(__name__)
STOPPABLE = ("pending", "claimed", "held")
LIVE = (CartState.OPEN.value, CartState.ABANDONED.value)


@dataclass(frozen=True)
class ContactRef:
    """A contact as hashes, with the clear values when known (shown to the merchant)."""
    email_hash: str | None = None
    phone_hash: str | None = None
    email: str | None = None
    phone: str | None = None

    @classmethod
    def of(cls, keys: ContactKeys, email: str | None = None, phone: str | None = None) -> "ContactRef":
        return cls(keys.email_hash(email), keys.phone_hash(phone), email and email.strip().lower(), phone)

    @property
    def hashes(self) -> list[str]:
        return [h for h in (self.email_hash, self.phone_hash) if h]


def widen(session: Session, shop_id: int, ref: ContactRef) -> ContactRef:
    """Fill in the phone (and clear email) from this contact's carts, when the request
    named only one of them (an unsubscribe link knows the email hash alone)."""
    if not ref.hashes:
        return ref
    # Every matching cart, newest first (id breaks ties: an opt-out touches them all at once):
    # a phone given on an older cart still belongs to this contact.
    rows = session.execute(select(Cart.email_hash, Cart.phone_hash, Cart.email, Cart.phone)
                           .where(Cart.shop_id == shop_id, _matches(ref))
                           .order_by(Cart.updated_at.desc(), Cart.id.desc())).all()

    def newest(field: str):
        return next((getattr(r, field) for r in rows if getattr(r, field)), None)
    return ContactRef(ref.email_hash or newest("email_hash"), ref.phone_hash or newest("phone_hash"),
                      ref.email or newest("email"), ref.phone or newest("phone"))


def opt_out(session: Session, shop_id: int, ref: ContactRef, *, source: str, now: datetime,
            by: str, reason: str | None = None, email_only: bool = False) -> int:
    """Record the opt-out and stop everything pending for the contact; returns the steps
    stopped. ``email_only``: a bounce says the address is bad, not that the person said no."""
    if not email_only:
        ref = widen(session, shop_id, ref)
    else:
        ref = ContactRef(ref.email_hash, None, ref.email, None)
    for kind, contact_hash, display in (("email", ref.email_hash, ref.email), ("phone", ref.phone_hash, ref.phone)):
        if contact_hash:
            _record(session, shop_id, kind, contact_hash, display, source, reason, by, now)
    stopped = stop_contact(session, shop_id, ref, "opted out", now)
    log.info("opt-out recorded", extra={"shop_id": shop_id, "code": f"opt_out_{source}", "count": stopped})
    return stopped


def _record(session: Session, shop_id: int, kind: str, contact_hash: str, display: str | None, source: str,
            reason: str | None, by: str, now: datetime) -> None:
    created = insert_ignore(session, OptOut, dict(
        shop_id=shop_id, contact_hash=contact_hash, kind=kind, display=display, active=True, source=source,
        reason=reason, created_at=now, created_by=by), ("shop_id", "contact_hash"))
    if created:
        return
    row = session.scalars(select(OptOut).where(OptOut.shop_id == shop_id, OptOut.contact_hash == contact_hash)
                          .with_for_update()).one()
    if not row.active:  # opted out again after a resubscribe: this is the new fact
        row.active, row.source, row.reason, row.created_at, row.created_by = True, source, reason, now, by
        row.removed_at = row.removed_by = None
    row.display = row.display or display


def stop_contact(session: Session, shop_id: int, ref: ContactRef, reason: str, now: datetime) -> int:
    """Cancel every open step of the contact's carts in this shop and suppress the live ones."""
    if not ref.hashes:
        return 0
    cart_ids = list(session.scalars(select(Cart.id).where(Cart.shop_id == shop_id, _matches(ref))))
    if not cart_ids:
        return 0
    stopped = session.execute(update(ReminderStep).where(
        ReminderStep.cart_id.in_(cart_ids), ReminderStep.status.in_(STOPPABLE))
        .values(status="cancelled", reason=reason, claim_token=None, claim_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    session.execute(update(Cart).where(Cart.id.in_(cart_ids), Cart.state.in_(LIVE))
                    .values(state=CartState.SUPPRESSED.value, updated_at=now)
                    .execution_options(synchronize_session=False))
    return stopped


def resubscribe(session: Session, shop_id: int, ref: ContactRef, *, by: str, now: datetime) -> int:
    """The customer or the merchant asked: the contact may be reminded again (future carts;
    carts stopped by the opt-out stay stopped). Returns the opt-outs lifted."""
    rows = session.scalars(select(OptOut).where(OptOut.shop_id == shop_id, OptOut.active.is_(True),
                                                OptOut.contact_hash.in_(widen(session, shop_id, ref).hashes)))
    lifted = 0
    for row in rows:
        row.active, row.removed_at, row.removed_by = False, now, by
        lifted += 1
    log.info("opt-out lifted", extra={"shop_id": shop_id, "code": "opt_out_lifted", "count": lifted})
    return lifted


def opted_out(session: Session, pairs: Iterable[tuple[int, str | None]]) -> set[tuple[int, str]]:
    """Which of these (shop id, contact hash) pairs are opted out: one query per batch."""
    wanted = {(shop_id, h) for shop_id, h in pairs if h}
    if not wanted:
        return set()
    rows = session.execute(select(OptOut.shop_id, OptOut.contact_hash).where(
        OptOut.active.is_(True), OptOut.shop_id.in_({s for s, _ in wanted}),
        OptOut.contact_hash.in_({h for _, h in wanted})))
    return {(shop_id, h) for shop_id, h in rows} & wanted


def covers(opted: set[tuple[int, str]], cart: Cart) -> bool:
    """Is this cart's contact (its email or its phone) among the opted-out pairs?"""
    return bool({(cart.shop_id, cart.email_hash), (cart.shop_id, cart.phone_hash)} & opted)


def is_opted_out(session: Session, shop_id: int, ref: ContactRef) -> bool:
    return bool(opted_out(session, [(shop_id, h) for h in ref.hashes]))


def _matches(ref: ContactRef):
    clauses = [c for h, c in ((ref.email_hash, Cart.email_hash == ref.email_hash),
                              (ref.phone_hash, Cart.phone_hash == ref.phone_hash)) if h]
    return or_(*clauses)
