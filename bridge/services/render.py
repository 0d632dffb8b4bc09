"""Rendering a stored cart's reminder: pick the language, the shop's override or the default.

With a discount code, the link back to the cart is the platform's own link that applies
the code (``Connector.discount_link``) where the platform has one for this cart.
"""
from __future__ import annotations

from typing import Mapping

from bridge.db.tables import Cart, Discount, Shop, Template
from bridge.discounts import EXPIRY_STEP_OFFSET, EXPIRY_TEMPLATE_STEP, DiscountKind, DiscountOffer
from bridge.model import CartSnapshot, Contact, LineItem
from bridge.templating import RenderedMessage, TemplateSource, choose_language, render_reminder
from connectors.base import Connector


def render_step(shop: Shop, cart: Cart, step: int, templates: Mapping[tuple[int, int, str], Template],
                discount: Discount | None = None, connector: Connector | None = None) -> RenderedMessage:
    """``templates``: the shops' overrides keyed by (shop id, step, language), loaded per batch."""
    language = choose_language(cart.locale, shop.language)
    template_step = EXPIRY_TEMPLATE_STEP if step >= EXPIRY_STEP_OFFSET else step
    row = templates.get((shop.id, template_step, language))
    override = TemplateSource(row.subject, row.html, row.text) if row else None
    snapshot = snapshot_of(cart)
    offer, link = None, cart.recovery_url
    if discount is not None:
        offer = DiscountOffer(discount.code, DiscountKind(discount.kind), discount.value, discount.currency,
                              discount.expires_at)
        if connector is not None:
            link = connector.discount_link(shop.domain, cart.recovery_url, discount.code,
                                           snapshot.line_items) or cart.recovery_url
    return render_reminder(snapshot, step=step, shop_name=shop.name, shop_language=shop.language,
                           recovery_url=link, override=override, tz_name=shop.timezone, discount=offer)


def snapshot_of(cart: Cart) -> CartSnapshot:
    """The shared-model view of a stored cart (what templates are rendered from)."""
    return CartSnapshot(
        external_id=cart.external_id, cart_token=cart.cart_token,
        contact=Contact(email=cart.email, phone=cart.phone, first_name=cart.first_name,
                        customer_id=cart.customer_id),
        currency=cart.currency, subtotal=cart.subtotal, total=cart.total, updated_at=cart.platform_updated_at,
        created_at=cart.created_at, locale=cart.locale, recovery_url=cart.recovery_url,
        accepts_marketing=cart.accepts_marketing,
        line_items=tuple(LineItem(title=i.title, quantity=i.quantity, unit_price=i.unit_price,
                                  variant_title=i.variant_title, product_id=i.product_id, variant_id=i.variant_id,
                                  sku=i.sku, image_url=i.image_url, product_url=i.product_url)
                         for i in cart.items))
