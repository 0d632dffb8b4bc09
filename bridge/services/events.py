"""Routing a shared-model event to the service that applies it: one table, no if-chain.

Every handler takes ``(session, shop, event, now, keys)`` and returns the id of the cart
it touched, if any (the inbox links the delivery to it).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bridge.contacts import ContactKeys
from bridge.db.tables import Shop
from bridge.model import (AppUninstalled, CartConverted, CartObserved, CartRemoved, ConsentChanged,
                          CustomerDataRequested, CustomerRedacted, Event, ShopRedacted)
from bridge.services import carts, consent, privacy

_HANDLERS = {
    CartObserved: carts.observe_cart,
    CartConverted: carts.convert,
    CartRemoved: carts.remove,
    ConsentChanged: consent.apply_consent,
    CustomerDataRequested: privacy.record_data_request,
    CustomerRedacted: privacy.redact_customer,
    ShopRedacted: privacy.erase_shop,
    AppUninstalled: privacy.uninstall,
}


def apply_event(session: Session, shop: Shop, event: Event, now: datetime, keys: ContactKeys) -> int | None:
    """Apply one event; returns the id of the cart it touched, if any."""
    return _HANDLERS[type(event)](session, shop, event, now, keys)
