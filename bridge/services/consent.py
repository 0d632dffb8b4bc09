"""Marketing consent changes from the platform (Shopify
``customers_email_marketing_consent/update``) applied to the contact's stored carts.

The checkout's own ``buyer_accepts_marketing`` is copied with every cart update; a
consent event changes the carts the customer already has, unless a cart update is
newer than the change (then the cart's own value already reflects it). The consent
policy itself is applied at send time (``bridge.manners.consent_blocks``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.contacts import ContactKeys
from bridge.db.tables import Cart, Shop
from bridge.model import ConsentChanged


def apply_consent(session: Session, shop: Shop, event: ConsentChanged, now: datetime,
                  keys: ContactKeys) -> int | None:
    contact, email_hash = event.contact, keys.email_hash(event.contact.email)
    clauses = [clause for value, clause in ((email_hash, Cart.email_hash == email_hash),
                                            (contact.customer_id, Cart.customer_id == contact.customer_id)) if value]
    if not clauses:
        return None
    carts = list(session.scalars(select(Cart).where(Cart.shop_id == shop.id, or_(*clauses))
                                 .order_by(Cart.id).with_for_update()))
    for cart in carts:
        if cart.platform_updated_at <= event.occurred_at:
            cart.accepts_marketing, cart.updated_at = event.accepts, now
    return carts[-1].id if carts else None
