"""Template previews and test sends for the admin page's template editor.

- ``preview_cart``: what to render a preview with — the shop's most recent cart that has
  items and an email (the merchant recognises it), else the sample cart.
- ``preview``: a merchant's typed template rendered the way the worker renders a reminder
  (``render_reminder`` + the unsubscribe footer of ``services.render``), with a sample
  code when the step offers one; or the template's problems, each with its field and line.
  It never raises on a merchant's template.
- ``send_test``: one message to an address the merchant typed, subject prefixed "[Test] ".
  The *web process* sends it itself, while the merchant waits for the answer: one call
  with the channel's own timeout (SendGrid) or one outbox row (dev, no SendGrid key).
  It is not a reminder: no ``messages`` row, no step, nothing the dashboard counts; the
  outbox row has ``kind="test"`` and no message. It renders the *sample* cart, never a
  customer's: a typed address must not be a way to mail a customer's cart out of the shop.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bridge.channels.base import Channel, OutboundMessage, Outcome
from bridge.contacts import deliverable_email
from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, CartItem, OutboxEntry, Shop
from bridge.discounts import EXPIRY_STEP_OFFSET, DiscountOffer, DiscountSetting
from bridge.model import CartSnapshot
from bridge.services.render import snapshot_of, with_unsubscribe
from bridge.services.shops import sequence_of
from bridge.templating import (TemplateProblem, TemplateRenderError, TemplateSource, check_template,
                               choose_language, render_reminder)
from bridge.templating_context import sample_cart, sample_discount
from bridge.templating_lines import locate

log = logging.getLogger(__name__)
# A reserved top-level domain (RFC 2606): plainly not a working link in a preview or a test.
PREVIEW_UNSUBSCRIBE_URL = "https://unsubscribe.invalid/preview"
SAMPLE_LABEL = "a sample cart"
TEST_PREFIX = "[Test] "
RECENT_CARTS = 20


@dataclass(frozen=True)
class Preview:
    subject: str = ""
    html: str = ""
    text: str = ""
    problems: list[TemplateProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class TrialSend:
    reason: str | None = None          # the address field's error ("is not an email address")
    problems: list[TemplateProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None and not self.problems


def preview_cart(session: Session, shop: Shop, language: str | None = None) -> tuple[CartSnapshot, str]:
    """The most recent cart with items and an email (one in ``language`` if any), and its label."""
    carts = list(session.scalars(
        select(Cart).where(Cart.shop_id == shop.id, Cart.email.is_not(None),
                           exists().where(CartItem.cart_id == Cart.id))
        .order_by(Cart.platform_updated_at.desc(), Cart.id.desc()).limit(RECENT_CARTS)
        .options(selectinload(Cart.items))))
    if not carts:
        return sample_cart(), SAMPLE_LABEL
    same = [c for c in carts if choose_language(c.locale, shop.language) == language]
    cart = (same or carts)[0]
    day = format_date(cart.platform_updated_at.astimezone(ZoneInfo(shop.timezone)), "d MMM", locale="en")
    owner = f"{cart.first_name.strip()}'s cart" if (cart.first_name or "").strip() else "The cart"
    return snapshot_of(cart), f"{owner} of {day}"


def preview_discount(session: Session, shop: Shop, step: int, currency: str, now: datetime) -> DiscountOffer | None:
    """A sample code shaped like the one ``step`` offers (an expiry reminder: the first code offered)."""
    offered = [s for s in sequence_of(session, shop).steps if s.discount.active]
    if step >= EXPIRY_STEP_OFFSET:
        hours = shop.expiry_reminder_hours or 24
        if not offered:
            return sample_discount(currency)
        return _offer(offered[0].discount, currency, now + timedelta(hours=hours))
    chosen = [s.discount for s in offered if s.position == step]
    return _offer(chosen[0], currency, now + timedelta(hours=chosen[0].valid_hours)) if chosen else None


def _offer(setting: DiscountSetting, currency: str, expires_at: datetime) -> DiscountOffer:
    return DiscountOffer(f"{setting.code_prefix}SAMPLE2345", setting.kind, setting.value, currency, expires_at)


def preview(source: TemplateSource, step: int, language: str, shop: Shop, cart: CartSnapshot,
            discount: DiscountOffer | None = None) -> Preview:
    """``source`` rendered for ``cart`` in ``language`` as the worker would, or its problems."""
    problems = check_template(source, language)
    if problems:
        return Preview(problems=problems)
    # The message language is the one being edited; the customer's own locale is kept when it
    # is that language (money as they would see it), as ``choose_language`` would pick it.
    if choose_language(cart.locale, None) != language:
        cart = dataclasses.replace(cart, locale=language)
    try:
        rendered = render_reminder(cart, step=step, shop_name=shop.name, shop_language=language,
                                   recovery_url=cart.recovery_url, unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL,
                                   override=source, tz_name=shop.timezone, discount=discount)
    except TemplateRenderError as err:     # fine on the sample cart, not on this one
        return Preview(problems=[locate(TemplateProblem(err.field, err.line, err.message),
                                        getattr(source, err.field))])
    rendered = with_unsubscribe(rendered, PREVIEW_UNSUBSCRIBE_URL)
    return Preview(rendered.subject, rendered.html, rendered.text)


def send_test(sessions: sessionmaker[Session], shop_id: int, source: TemplateSource, step: int, language: str,
              raw_address: str, *, channel: Channel | None, mail_from: str, now: datetime) -> TrialSend:
    """Render ``source`` for the sample cart and send it to ``raw_address`` through ``channel``
    (None: the dev outbox). Only ids and codes are logged, never the address."""
    address = deliverable_email(raw_address)
    if address is None:
        return TrialSend("is not an email address")
    with sessions() as session:
        shop = session.get(Shop, shop_id)
        currency = preview_cart(session, shop, language)[0].currency
        result = preview(source, step, language, shop, sample_cart(currency),
                         preview_discount(session, shop, step, currency, now))
        sender, sender_name = shop.sender_email or mail_from, shop.sender_name or shop.name
    if not result.ok:
        return TrialSend(problems=result.problems)
    # "test" is no messages.id: SendGrid's events about it are stored and ignored, never
    # counted on a reminder (webhooks/sendgrid.py reads only numeric ids).
    message = OutboundMessage(message_id="test", shop_id=shop_id, cart_id=0, step=step, to_email=address,
                              from_email=sender, from_name=sender_name, subject=TEST_PREFIX + result.subject,
                              html=result.html, text=result.text, categories=("test",))
    return _deliver(sessions, message, channel, now)


def _deliver(sessions: sessionmaker[Session], message: OutboundMessage, channel: Channel | None,
             now: datetime) -> TrialSend:
    if channel is None:
        with unit_of_work(sessions) as session:
            session.add(OutboxEntry(message_id=None, kind="test", shop_id=message.shop_id, to_email=message.to_email,
                                    from_email=message.from_email, subject=message.subject, html=message.html,
                                    text=message.text, headers={}, created_at=now))
        log.info("template test sent to the outbox", extra={"shop_id": message.shop_id, "code": "template_test_sent"})
        return TrialSend()
    sent = channel.send(message)      # one call, with the channel's own timeout
    log.info("template test %s", sent.outcome.value, extra={
        "shop_id": message.shop_id, "code": f"template_test_{sent.outcome.value}", "status_code": sent.status_code})
    if sent.outcome != Outcome.SENT:
        return TrialSend(f"could not be sent: {sent.error or sent.outcome.value}")
    return TrialSend()
