"""Privacy requests: export and erase a customer's data, erase a shop, stop on uninstall.

Shopify's mandatory compliance webhooks (``customers/data_request``, ``customers/redact``,
``shop/redact``; https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance)
and ``app/uninstalled`` reach these handlers through ``services.events``; the CLI calls
``export_contact`` / ``erase_contact`` for requests that reach the merchant directly.

A customer is found within one shop only: carts by the keyed hashes of the email and
phone (``bridge.contacts``) or the platform's customer id, orders by email, customer id
or the order ids the request names. Erasure keeps exactly one thing, the opt-out hash,
so a customer who unsubscribed and then asked to be forgotten still gets nothing.
Every table is changed with one set-wise UPDATE or DELETE over the customer's ids.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable

from sqlalchemy import case, delete, null, or_, select, update
from sqlalchemy.orm import Session

from bridge.contacts import ContactKeys
from bridge.db.tables import (Cart, ContactLedger, Delivery, InstallRequest, Message, MessageAttempt,
                              OpenOrderCheck, OptOut, Order, OutboxEntry, PrivacyRequest, ProviderEvent, ReminderStep,
                              SequenceStep, Shop, ShopSync, Template, UserShop)
from bridge.model import AppUninstalled, CartState, CustomerDataRequested, CustomerRedacted, ShopRedacted
from bridge.services.optouts import LIVE, STOPPABLE, ContactRef
from bridge.services.privacy_lookup import cart_ids as find_cart_ids
from bridge.services.privacy_lookup import export_contact, hashes_of, names_email, orders_of
from bridge.services.retention import delete_carts

log = logging.getLogger(__name__)
ERASED_BODY = b"{}"
ERASED_ADDRESS = "redacted"   # messages.to_email of an erased customer (provider events check it)
TOKEN_COLUMNS = ("access_token_enc", "refresh_token_enc", "access_token_expires_at", "refresh_token_expires_at")
# The tombstone of a redacted shop keeps its identity (platform, domain) and nothing else.
SHOP_SECRETS = TOKEN_COLUMNS + ("consumer_key_enc", "consumer_secret_enc", "webhook_secret_enc",
                                "webhook_secret_previous_enc", "sendgrid_api_key_enc", "sender_name", "sender_email",
                                "discount_error")
# After the carts (and their messages' outbox rows): what is left in the outbox are test sends;
# admin users keep their accounts but lose the grant; reconciliation state and install requests go.
SHOP_TABLES = (Order, Template, SequenceStep, OptOut, ContactLedger, OpenOrderCheck, ProviderEvent, PrivacyRequest,
               OutboxEntry, UserShop, ShopSync, InstallRequest)


# -- the event handlers (services.events routes to them; None: no cart to link the delivery to)

def record_data_request(session: Session, shop: Shop, event: CustomerDataRequested, now: datetime,
                        keys: ContactKeys) -> None:
    ref = ContactRef.of(keys, event.contact.email, event.contact.phone)
    export = export_contact(session, shop, ref, event.contact.customer_id, event.order_ids)
    record_request(session, shop.id, "export", "shopify", ref, export, now, reference=event.request_id)


def redact_customer(session: Session, shop: Shop, event: CustomerRedacted, now: datetime,
                    keys: ContactKeys) -> None:
    ref = ContactRef.of(keys, event.contact.email, event.contact.phone)
    counts = erase_contact(session, shop, ref, now, event.contact.customer_id, event.order_ids)
    record_request(session, shop.id, "erase", "shopify", ref, counts, now)


def erase_shop(session: Session, shop: Shop, event: ShopRedacted, now: datetime, keys: ContactKeys) -> None:
    """Everything of the shop goes; the shop row stays as a tombstone, so later deliveries
    for it are still recognized (and refused) rather than creating a new shop."""
    counts = delete_carts(session, select(Cart.id).where(Cart.shop_id == shop.id))
    for model in SHOP_TABLES:  # children before parents: no reliance on ON DELETE CASCADE
        counts[model.__tablename__] = _rows(session, delete(model).where(model.shop_id == shop.id))
    # Bodies only: the delivery being processed right now is one of these rows, and the
    # inbox marks it processed after this returns. Retention deletes the rows later.
    counts["webhook_deliveries"] = _rows(session, update(Delivery).where(Delivery.shop_id == shop.id)
                                         .values(body=ERASED_BODY))
    for column in SHOP_SECRETS:
        setattr(shop, column, None)
    shop.status = "redacted"
    log.info("shop erased", extra={"shop_id": shop.id, "code": "shop_redacted", "count": counts["carts"]})


def uninstall(session: Session, shop: Shop, event: AppUninstalled, now: datetime, keys: ContactKeys) -> None:
    """Stop all sending at once and forget the tokens; carts stay for a reinstall."""
    if shop.status != "redacted":  # a late app/uninstalled must not revive a redacted tombstone
        shop.status = "uninstalled"
    shop.uninstalled_at = event.occurred_at or now
    for column in TOKEN_COLUMNS:
        setattr(shop, column, None)
    stopped = _cancel_steps(session, ReminderStep.shop_id == shop.id, "app uninstalled", now)
    log.info("app uninstalled", extra={"shop_id": shop.id, "code": "app_uninstalled", "count": stopped})


def record_request(session: Session, shop_id: int, kind: str, source: str, ref: ContactRef, result: dict,
                   now: datetime, reference: str | None = None) -> PrivacyRequest:
    request = PrivacyRequest(shop_id=shop_id, kind=kind, source=source, reference=reference and reference[:64],
                             contact_hash=ref.email_hash or ref.phone_hash, result=result, created_at=now)
    session.add(request)
    session.flush()
    log.info("privacy request recorded", extra={"shop_id": shop_id, "code": f"privacy_{kind}_{source}"})
    return request


# -- erasure

def erase_contact(session: Session, shop: Shop, ref: ContactRef, now: datetime, customer_id: str | None = None,
                  order_ids: Iterable[str] = ()) -> dict:
    """Erase the customer's personal data in this shop; returns what was changed, per table."""
    order_ids = tuple(order_ids)
    cart_ids = find_cart_ids(session, shop.id, ref, customer_id, order_ids)
    hashes = hashes_of(ref, session.execute(select(Cart.email_hash, Cart.phone_hash).where(Cart.id.in_(cart_ids))))
    message_ids = list(session.scalars(select(Message.id).where(Message.cart_id.in_(cart_ids))))
    # Cancelled before anything else, so nothing goes out mid-sequence (a claimed step
    # loses its claim token: the worker holding it no longer prepares it).
    counts = {"steps_cancelled": _cancel_steps(session, ReminderStep.cart_id.in_(cart_ids), "customer data erased",
                                               now)}
    counts["orders"] = _rows(session, update(Order).where(orders_of(shop.id, ref, customer_id, order_ids, cart_ids))
                             .values(email=None, customer_id=None))
    counts["carts"] = _rows(session, update(Cart).where(Cart.id.in_(cart_ids)).values(
        email=None, phone=None, first_name=None, customer_id=None, recovery_url=None, email_hash=None,
        phone_hash=None, updated_at=now,
        state=case((Cart.state.in_(LIVE), CartState.SUPPRESSED.value), else_=Cart.state)))
    counts.update(_erase_messages(session, message_ids))
    counts.update(_erase_bodies(session, shop.id, ref, cart_ids, message_ids))
    counts.update(_erase_by_hash(session, shop.id, hashes))
    log.info("customer erased", extra={"shop_id": shop.id, "code": "customer_redacted", "count": counts["carts"]})
    return counts


def _erase_messages(session: Session, message_ids: list[int]) -> dict:
    messages = Message.id.in_(message_ids)
    return {"messages": _rows(session, update(Message).where(messages).values(
                to_email=ERASED_ADDRESS, subject="", html="", text="")),
            # A provider's error text may quote the address.
            "message_attempts": _rows(session, update(MessageAttempt).where(
                MessageAttempt.message_id.in_(message_ids), MessageAttempt.error.is_not(None)).values(error=None)),
            "outbox": _rows(session, delete(OutboxEntry).where(OutboxEntry.message_id.in_(message_ids)))}


def _erase_bodies(session: Session, shop_id: int, ref: ContactRef, cart_ids: list[int], message_ids: list[int]):
    """Raw bodies of the customer's deliveries and provider events: the linked ones, and any
    other of this shop naming the email (an order that matched no cart, this very request),
    processed or not."""
    deliveries = (Delivery.shop_id == shop_id) & or_(Delivery.cart_id.in_(cart_ids),
                                                     names_email(session, Delivery.body, ref.email))
    events = or_(ProviderEvent.message_id.in_(message_ids),
                 (ProviderEvent.shop_id == shop_id) & names_email(session, ProviderEvent.body, ref.email))
    return {"webhook_deliveries": _rows(session, update(Delivery).where(deliveries).values(body=ERASED_BODY)),
            "provider_events": _rows(session, update(ProviderEvent).where(events).values(body=ERASED_BODY))}


def _erase_by_hash(session: Session, shop_id: int, hashes: list[str]) -> dict:
    """Hash-keyed rows: the opt-out stays (without its display), the rest goes."""
    def of(model):
        return (model.shop_id == shop_id) & model.contact_hash.in_(hashes)
    return {"contact_ledger": _rows(session, delete(ContactLedger).where(of(ContactLedger))),
            "open_order_checks": _rows(session, delete(OpenOrderCheck).where(of(OpenOrderCheck))),
            "opt_outs": _rows(session, update(OptOut).where(of(OptOut)).values(display=None)),
            # Exports hold the data itself; erasure records hold only counts and stay.
            "privacy_requests": _rows(session, update(PrivacyRequest).where(
                of(PrivacyRequest), PrivacyRequest.kind == "export").values(result=null()))}


def _cancel_steps(session: Session, where, reason: str, now: datetime) -> int:
    return _rows(session, update(ReminderStep).where(where, ReminderStep.status.in_(STOPPABLE)).values(
        status="cancelled", reason=reason, claim_token=None, claim_expires_at=None, updated_at=now))


def _rows(session: Session, statement) -> int:
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount
