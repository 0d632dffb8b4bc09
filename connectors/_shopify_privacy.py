"""Shopify privacy, consent and app-lifecycle normalizers: bodies -> shared-model events (pure).

The three mandatory compliance topics (``customers/data_request``, ``customers/redact``,
``shop/redact``), ``app/uninstalled`` and ``customers_email_marketing_consent/update``. Each
public function takes the envelope and the parsed JSON object of one topic and returns one
event, or raises ``UnprocessableDelivery`` naming what is wrong. The topic table that routes
to them lives in ``connectors.shopify``.
Compliance bodies: https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance
Other bodies (sample payloads): https://shopify.dev/docs/api/webhooks/latest?reference=toml
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridge.model import (AppUninstalled, ConsentChanged, Contact, CustomerDataRequested, CustomerRedacted,
                          Envelope, Event, ShopRedacted, UnprocessableDelivery)
from connectors import _parse as p

# ``email_marketing_consent.state`` as the webhook spells it (lowercase). Only "subscribed" is
# consent: "pending" means a double opt-in the customer has not confirmed yet; "redacted" and
# "invalid" are set by Shopify itself (erased data, an address that bounces).
# https://shopify.dev/docs/api/admin-graphql/latest/enums/CustomerEmailMarketingState
CONSENT_STATES: dict[str, bool] = {
    "subscribed": True,
    "not_subscribed": False,
    "unsubscribed": False,
    "pending": False,
    "redacted": False,
    "invalid": False,
}


def _is_this_shop(claimed: str, envelope: Envelope) -> bool:
    """Domains compare case-insensitively; the edge lowercases the header already."""
    return claimed.lower() == envelope.shop_key.strip().lower()


def _require_same_shop(envelope: Envelope, payload: dict) -> None:
    """The HMAC covers the body, not the X-Shopify-Shop-Domain header the shop is looked up by:
    a genuine signed body for shop A, replayed with shop B's header, verifies. The body's own
    ``shop_domain`` must name the shop we are about to erase or export, or nothing happens."""
    claimed = p.text(payload.get("shop_domain"))
    if claimed is None:
        raise UnprocessableDelivery(f"{envelope.topic} without shop_domain: cannot tell whose data it is")
    if not _is_this_shop(claimed, envelope):
        raise UnprocessableDelivery(f"{envelope.topic} names shop {claimed[:100]!r} but was delivered "
                                    f"for {envelope.shop_key[:100]!r}: refused")


def _customer(envelope: Envelope, payload: dict) -> Contact:
    """Shopify may send only some of email, phone and id ("in some cases, a customer record
    contains only the customer's email address"); with none of them nobody can be found."""
    customer = p.mapping(payload.get("customer"), "customer")
    contact = Contact(email=p.email(customer.get("email")), phone=p.text(customer.get("phone")),
                      customer_id=p.ident(customer.get("id")))
    if not (contact.email or contact.phone or contact.customer_id):
        raise UnprocessableDelivery(f"{envelope.topic} names no customer: no email, phone or id")
    return contact


def _order_ids(value: Any, field: str) -> tuple[str, ...]:
    """Order ids as strings; a garbled entry is refused rather than silently skipped, because
    a skipped id would be an order whose data we keep."""
    found = []
    for index, raw in enumerate(p.sequence(value, field)):
        order_id = p.ident(raw)
        if order_id is None:
            raise UnprocessableDelivery(f"{field}[{index}] is not an order id")
        found.append(order_id)
    return tuple(found)


def customer_data_request(envelope: Envelope, payload: dict) -> Event:
    """The merchant asked for everything we hold about a customer (answer within 30 days)."""
    _require_same_shop(envelope, payload)
    request = p.mapping(payload.get("data_request"), "data_request")
    return CustomerDataRequested(contact=_customer(envelope, payload), request_id=p.ident(request.get("id")),
                                 order_ids=_order_ids(payload.get("orders_requested"), "orders_requested"))


def customer_redact(envelope: Envelope, payload: dict) -> Event:
    """Erase a customer; Shopify holds the request back while the customer has recent orders."""
    _require_same_shop(envelope, payload)
    return CustomerRedacted(contact=_customer(envelope, payload),
                            order_ids=_order_ids(payload.get("orders_to_redact"), "orders_to_redact"))


def shop_redact(envelope: Envelope, payload: dict) -> Event:
    """Erase the whole shop; sent 48 hours after the app was uninstalled."""
    _require_same_shop(envelope, payload)
    return ShopRedacted()


def app_uninstalled(envelope: Envelope, payload: dict) -> Event:
    """The body is the Shop resource. Its ``myshopify_domain`` (null in Shopify's own sample)
    is checked when present, for the same replay reason as the compliance topics; ``domain``
    is the storefront's own domain and says nothing about which shop this is."""
    claimed = p.text(payload.get("myshopify_domain"))
    if claimed is not None and not _is_this_shop(claimed, envelope):
        raise UnprocessableDelivery(f"app/uninstalled names shop {claimed[:100]!r} but was delivered "
                                    f"for {envelope.shop_key[:100]!r}: refused")
    return AppUninstalled(occurred_at=envelope.triggered_at)


def _consent_state(consent: dict) -> bool:
    state = p.text(consent.get("state"))
    accepts = CONSENT_STATES.get(state.lower()) if state else None
    if accepts is None:
        shown = state[:40] if state else None
        raise UnprocessableDelivery(f"unknown email marketing consent state: {shown!r}")
    return accepts


def email_consent(envelope: Envelope, payload: dict) -> Event:
    """Body: ``{customer_id, email_address, email_marketing_consent: {state, opt_in_level,
    consent_updated_at}}``; no phone. ``consent_updated_at`` is null for a customer who never
    chose; then the trigger time orders it, and when a proxy stripped that header, "now" (the
    accepted impurity of ``checkout_deleted``: losing an unsubscribe would be worse)."""
    consent = p.mapping(payload.get("email_marketing_consent"), "email_marketing_consent")
    accepts = _consent_state(consent)
    contact = Contact(email=p.email(payload.get("email_address")), customer_id=p.ident(payload.get("customer_id")))
    if not (contact.email or contact.customer_id):
        raise UnprocessableDelivery(f"{envelope.topic} names no customer: no email address or id")
    occurred_at = p.moment(consent.get("consent_updated_at")) or envelope.triggered_at or datetime.now(UTC)
    return ConsentChanged(contact=contact, accepts=accepts, occurred_at=occurred_at)
