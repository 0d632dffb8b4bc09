"""Send-time checks made inside the claim transaction, for a whole batch at once:
opt-out, consent policy, re-entry cooldown, quiet hours and the frequency cap.

Each answers with a ``Verdict``: go, skip (with the reason; an opted-out or cooled-down
contact's cart is suppressed), or wait until a time (the step goes back to pending with
a later ``due_at`` and the reason, never dropped). A step that goes reserves the
contact's slot in the ledger (``contact_ledger``, locked on PostgreSQL), so two workers
claiming two carts of one customer cannot both send within the window.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bridge.contacts import ContactKeys
from bridge.db.tables import Cart, ContactLedger, ReminderStep, Shop
from bridge.manners import ConsentPolicy, cap_until, consent_blocks, customer_zone, in_cooldown, quiet_until
from bridge.services.optouts import covers, opted_out

_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


@dataclass(frozen=True)
class Verdict:
    action: str                      # go | skip | wait
    reason: str | None = None
    until: datetime | None = None
    suppress: bool = False           # skip: the cart gets no more reminders at all


GO = Verdict("go")


class BatchChecks:
    """The data the checks need for one batch, loaded with a few IN queries."""

    def __init__(self, session: Session, carts: dict[int, Cart], keys: ContactKeys, now: datetime):
        self.now = now
        for cart in carts.values():   # carts stored before hashes existed get theirs now
            if cart.email and cart.email_hash is None:
                cart.email_hash, cart.phone_hash = keys.email_hash(cart.email), keys.phone_hash(cart.phone)
        self.opted = opted_out(session, [(c.shop_id, h) for c in carts.values() for h in (c.email_hash, c.phone_hash)])
        self.ledger = _locked_ledger(session, {(c.shop_id, c.email_hash) for c in carts.values() if c.email_hash})
        # By cart id only, status filtered here: with a status condition SQLite picks the
        # (status, due_at) index and walks every sent step of the shop (bench.dispatch).
        self.started = {cart_id for cart_id, status in session.execute(select(
            ReminderStep.cart_id, ReminderStep.status).where(ReminderStep.cart_id.in_(carts)))
            if status in ("sent", "unknown")}

    def verdict(self, step: ReminderStep, cart: Cart, shop: Shop) -> Verdict:
        for check in _CHECKS:
            verdict = check(self, step, cart, shop)
            if verdict is not None:
                return verdict
        return GO

    def reserve(self, step: ReminderStep, cart: Cart) -> None:
        """The contact's slot is this step's now; a new cart starts a new sequence."""
        row = self.ledger[(cart.shop_id, cart.email_hash)]
        row.last_message_at, row.last_step_id = self.now, step.id
        if row.sequence_cart_id != cart.id:
            row.sequence_cart_id, row.sequence_started_at = cart.id, self.now
        self.started.add(cart.id)


def _opted_out(checks: BatchChecks, step: ReminderStep, cart: Cart, shop: Shop) -> Verdict | None:
    if covers(checks.opted, cart):
        return Verdict("skip", "opted out", suppress=True)
    return None


def _consent(checks: BatchChecks, step: ReminderStep, cart: Cart, shop: Shop) -> Verdict | None:
    reason = consent_blocks(ConsentPolicy(shop.consent_policy), cart.accepts_marketing,
                            first_reminder=cart.id not in checks.started)
    return Verdict("skip", reason) if reason else None


def _cooldown(checks: BatchChecks, step: ReminderStep, cart: Cart, shop: Shop) -> Verdict | None:
    row = checks.ledger[(cart.shop_id, cart.email_hash)]
    if cart.id in checks.started or row.sequence_cart_id in (None, cart.id):
        return None
    if in_cooldown(row.sequence_started_at, shop.reentry_cooldown_days, checks.now):
        return Verdict("skip", f"re-entry cooldown: this contact's last sequence began less than "
                               f"{shop.reentry_cooldown_days} days ago", suppress=True)
    return None


def _quiet_hours(checks: BatchChecks, step: ReminderStep, cart: Cart, shop: Shop) -> Verdict | None:
    tz = customer_zone(cart.timezone, cart.country, shop.timezone, checks.now)
    until = quiet_until(checks.now, tz, shop.quiet_hours_start, shop.quiet_hours_end)
    if until is None:
        return None
    local = until.astimezone(tz)
    return Verdict("wait", f"waiting: quiet hours until {local:%Y-%m-%d %H:%M} {tz.key}", until)


def _frequency_cap(checks: BatchChecks, step: ReminderStep, cart: Cart, shop: Shop) -> Verdict | None:
    row = checks.ledger[(cart.shop_id, cart.email_hash)]
    if row.last_step_id == step.id:   # its own reservation (a retry of this very step)
        return None
    until = cap_until(row.last_message_at, shop.frequency_cap_hours, checks.now)
    if until is None:
        return None
    return Verdict("wait", f"waiting: one message per {shop.frequency_cap_hours} h to this contact; "
                           f"next at {until:%Y-%m-%d %H:%M} UTC", until)


# In this order: the final answers (skip) before the postponements (wait).
_CHECKS = (_opted_out, _consent, _cooldown, _quiet_hours, _frequency_cap)


def _locked_ledger(session: Session, contacts: set[tuple[int, str]]) -> dict[tuple[int, str], ContactLedger]:
    """Every contact of the batch has a ledger row, locked for this transaction (PostgreSQL)."""
    if not contacts:
        return {}
    dialect = session.get_bind().dialect.name
    session.execute(_INSERTS[dialect](ContactLedger.__table__).on_conflict_do_nothing(
        index_elements=["shop_id", "contact_hash"]), [dict(shop_id=s, contact_hash=h) for s, h in sorted(contacts)])
    query = (select(ContactLedger).where(ContactLedger.shop_id.in_({s for s, _ in contacts}),
                                         ContactLedger.contact_hash.in_({h for _, h in contacts}))
             .order_by(ContactLedger.id).execution_options(populate_existing=True))
    if dialect == "postgresql":
        query = query.with_for_update()
    rows = {(r.shop_id, r.contact_hash): r for r in session.scalars(query)}
    return {key: rows[key] for key in contacts}
