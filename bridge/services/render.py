"""Rendering a stored cart's reminder: pick the language, the shop's override or the default.

With a discount code, the link back to the cart is the platform's own link that applies
the code (``Connector.discount_link``) where the platform has one for this cart. Every
message carries its unsubscribe link: a merchant's template that leaves it out gets a
one-line footer with it, in the message's language.
"""
from __future__ import annotations

import dataclasses
import html
from typing import Mapping

from bridge.contacts import UnsubscribeLinks
from bridge.db.tables import Cart, Discount, Shop, Template
from bridge.discounts import EXPIRY_STEP_OFFSET, EXPIRY_TEMPLATE_STEP, DiscountKind, DiscountOffer
from bridge.model import CartSnapshot, Contact, LineItem
from bridge.templating import RenderedMessage, TemplateSource, choose_language, render_reminder
from connectors.base import Connector


# The default templates' own wording (templates_default/<lang>/step1.text.liquid).
UNSUBSCRIBE_TEXT = {"en": "Unsubscribe from these reminders", "ru": "Отписаться от напоминаний",
                    "uk": "Відписатися від нагадувань", "bg": "Отписване от напомнянията",
                    "kk": "Еске салу хаттарынан бас тарту"}


def render_step(shop: Shop, cart: Cart, step: int, templates: Mapping[tuple[int, int, str], Template],
                discount: Discount | None = None, connector: Connector | None = None,
                links: UnsubscribeLinks | None = None) -> RenderedMessage:
    """``templates``: the shops' overrides keyed by (shop id, step, language), loaded per batch."""
    language = choose_language(cart.locale, shop.language)
    unsubscribe = links.url(shop.id, cart.email, language) if links is not None else None
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
    rendered = render_reminder(snapshot, step=step, shop_name=shop.name, shop_language=shop.language,
                               recovery_url=link, unsubscribe_url=unsubscribe, override=override,
                               tz_name=shop.timezone, discount=offer)
    return with_unsubscribe(rendered, unsubscribe) if unsubscribe else rendered


def with_unsubscribe(rendered: RenderedMessage, url: str) -> RenderedMessage:
    """The message with its unsubscribe link, added as a footer where the template left it out."""
    label = UNSUBSCRIBE_TEXT.get(rendered.language, UNSUBSCRIBE_TEXT["en"])
    page = rendered.html
    if html.escape(url) not in page and url not in page:
        footer = (f'<p style="font-size:12px;color:#6b7280;text-align:center;">'
                  f'<a href="{html.escape(url)}" style="color:#6b7280;">{html.escape(label)}</a></p>')
        closing = page.lower().rfind("</body>")
        page = page[:closing] + footer + page[closing:] if closing >= 0 else page + footer
    text = rendered.text if url in rendered.text else f"{rendered.text.rstrip()}\n\n{label}: {url}\n"
    return dataclasses.replace(rendered, html=page, text=text, unsubscribe_url=url)


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
