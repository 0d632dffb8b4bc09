"""Consent policy and sending manners, checked at send time on each database: first reminder
only without consent, quiet hours in the customer's zone, one message per window per contact,
re-entry cooldown, and the opt-out that lands between claim and send."""
from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, OptOut, ReminderStep, Shop
from bridge.model import ConsentChanged, Contact
from bridge.services.claims import claim_due_steps
from bridge.services.events import apply_event
from bridge.services.optouts import ContactRef, opt_out
from bridge.services.shops import create_shop
from bridge.worker import run
from tests.support.discounts import outbox
from tests.support.shops import add_shopify_shop, checkout, post_shopify, set_manners


def _pass(runtime):
    return run(runtime, once=True)


def _steps(runtime, token: str) -> list[tuple[int, str, str | None]]:
    with unit_of_work(runtime.sessions) as session:
        rows = session.execute(select(ReminderStep.position, ReminderStep.status, ReminderStep.reason).join(Cart)
                               .where(Cart.external_id == token).order_by(ReminderStep.position))
        return [tuple(r) for r in rows]


def _step(runtime, token: str, position: int) -> ReminderStep:
    with unit_of_work(runtime.sessions) as session:
        return session.scalars(select(ReminderStep).join(Cart).where(
            Cart.external_id == token, ReminderStep.position == position)).one()


def _checkout(token: str, at: datetime, *, email: str = "anna@example.com", accepts: bool = True,
              country: str | None = None) -> dict:
    body = checkout(token, at, email=email)
    body["buyer_accepts_marketing"] = accepts
    body["customer"]["id"] = zlib.crc32(email.encode())
    if country:
        body["billing_address"] = {"first_name": "Anna", "country_code": country}
    return body


def _walk(runtime, clock, hours: int) -> list[tuple[datetime, str]]:
    """Advance hour by hour; what landed in the outbox, with when."""
    seen, landed = len(outbox(runtime)), []
    for _ in range(hours):
        clock.advance(hours=1)
        _pass(runtime)
        for entry in outbox(runtime)[seen:]:
            landed.append((clock(), entry.to_email))
        seen = len(outbox(runtime))
    return landed


def test_a_new_shop_starts_with_the_documented_manners(runtime):
    # when a shop is created the way the CLI and installs create one
    with unit_of_work(runtime.sessions) as session:
        shop = create_shop(session, runtime.box, platform="shopify", domain="fresh.myshopify.com", name="Fresh",
                           now=runtime.now())
        # then consent is "first reminder only", one message per 16 h, quiet 21-08, 7 days between sequences
        assert (shop.consent_policy, shop.frequency_cap_hours, shop.quiet_hours_start, shop.quiet_hours_end,
                shop.reentry_cooldown_days, shop.open_order_check) == ("first_only", 16, 21, 8, 7, True)


def test_without_marketing_consent_only_the_first_reminder_goes(runtime, client, clock):
    # given the default policy and a shopper who did not accept marketing, next to one who did
    shop_id = add_shopify_shop(runtime)
    set_manners(runtime, shop_id, consent_policy="first_only")
    post_shopify(client, "checkouts/create", _checkout("no", clock(), email="no@example.com", accepts=False),
                 webhook_id="w1")
    post_shopify(client, "checkouts/create", _checkout("yes", clock(), email="yes@example.com"), webhook_id="w2")
    # when the whole sequence has had its time
    _walk(runtime, clock, 73)
    # then the one without consent got only the first reminder, the reasons say why
    assert [(p, s) for p, s, _ in _steps(runtime, "no")] == [(1, "sent"), (2, "skipped"), (3, "skipped")]
    assert _steps(runtime, "no")[1][2] == "no marketing consent: first reminder only"
    assert [s for _, s, _ in _steps(runtime, "yes")] == ["sent", "sent", "sent"]


def test_required_consent_sends_nothing_until_the_customer_subscribes(runtime, client, clock):
    # given a shop that requires consent and a shopper without it
    shop_id = add_shopify_shop(runtime)
    set_manners(runtime, shop_id, consent_policy="required")
    post_shopify(client, "checkouts/create", _checkout("t1", clock(), accepts=False), webhook_id="w1")
    _walk(runtime, clock, 2)
    assert _steps(runtime, "t1")[0][1:] == ("skipped", "no marketing consent (the shop requires it)")
    # when the customer subscribes on the platform (consent webhook), before step 2 is due
    with unit_of_work(runtime.sessions) as session:
        apply_event(session, session.get(Shop, shop_id), ConsentChanged(
            Contact(email="Anna@Example.com"), True, clock()), clock(), runtime.contacts())
    _walk(runtime, clock, 23)
    # then step 2 goes out
    assert _steps(runtime, "t1")[1][1] == "sent"
    assert len(outbox(runtime)) == 1


def test_quiet_hours_postpone_to_the_morning_in_the_customers_zone(runtime, client, clock):
    # given a UTC shop, a customer in Japan (one zone, UTC+9), and a checkout left at 11:00 UTC (20:00 Tokyo)
    shop_id = add_shopify_shop(runtime)
    set_manners(runtime, shop_id, quiet_hours_start=21, quiet_hours_end=8)
    clock.current = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    post_shopify(client, "checkouts/create", _checkout("jp", clock(), country="JP"), webhook_id="w1")
    # when step 1 comes due at 12:00 UTC (21:00 in Tokyo)
    clock.advance(hours=1, minutes=1)
    _pass(runtime)
    # then it waits for 08:00 Tokyo (23:00 UTC), with the reason, and is not dropped
    step = _step(runtime, "jp", 1)
    assert (step.status, step.due_at) == ("pending", datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
    assert step.reason == "waiting: quiet hours until 2026-11-24 08:00 Asia/Tokyo"
    assert outbox(runtime) == []
    clock.current = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    _pass(runtime)
    assert _step(runtime, "jp", 1).status == "sent"


def test_a_country_with_several_zones_falls_back_to_the_shops_zone(runtime, client, clock):
    # given a shop in Europe/Kyiv and a US customer (many zones: no single guess)
    shop_id = add_shopify_shop(runtime)
    set_manners(runtime, shop_id, timezone="Europe/Kyiv", quiet_hours_start=21, quiet_hours_end=8)
    clock.current = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)   # 20:30 in Kyiv
    post_shopify(client, "checkouts/create", _checkout("us", clock(), country="US"), webhook_id="w1")
    # when step 1 is due at 19:31 UTC (21:31 in Kyiv)
    clock.advance(hours=1, minutes=1)
    _pass(runtime)
    # then quiet hours apply in the shop's zone
    assert _step(runtime, "us", 1).reason == "waiting: quiet hours until 2026-11-24 08:00 Europe/Kyiv"


def test_two_carts_of_one_contact_get_one_message_per_window_and_neither_is_dropped(runtime, client, clock):
    # given one message per 16 h, no cooldown, and the same customer leaving two checkouts
    shop_id = add_shopify_shop(runtime)
    set_manners(runtime, shop_id, frequency_cap_hours=16)
    start = clock()
    post_shopify(client, "checkouts/create", _checkout("a", start), webhook_id="w1")
    post_shopify(client, "checkouts/create", _checkout("b", start + timedelta(minutes=5)), webhook_id="w2")
    # when both first steps come due
    landed = _walk(runtime, clock, 2)
    # then only one message went; the other step waits until the window ends, with the reason
    assert len(landed) == 1
    waiting = _step(runtime, "b", 1)
    assert waiting.status == "pending"
    assert waiting.reason.startswith("waiting: one message per 16 h to this contact")
    assert waiting.due_at == start + timedelta(hours=1 + 16)   # the first message went at +1 h
    # and it goes out once the window is over
    landed += _walk(runtime, clock, 17)
    assert [when - start for when, _ in landed][:2] == [timedelta(hours=1), timedelta(hours=17)]


def test_a_contact_enters_a_new_sequence_at_most_once_per_cooldown(runtime, client, clock):
    # given a 7-day re-entry cooldown and a customer whose first cart got its reminder
    shop_id = add_shopify_shop(runtime, delays=(60,))
    set_manners(runtime, shop_id, reentry_cooldown_days=7, frequency_cap_hours=0)
    post_shopify(client, "checkouts/create", _checkout("first", clock()), webhook_id="w1")
    _walk(runtime, clock, 2)
    # when the same customer abandons another cart two days later
    clock.advance(days=2)
    post_shopify(client, "checkouts/create", _checkout("second", clock()), webhook_id="w2")
    _walk(runtime, clock, 2)
    # then it is skipped with the reason and the cart is suppressed
    assert _steps(runtime, "second")[0][1] == "skipped"
    assert _steps(runtime, "second")[0][2].startswith("re-entry cooldown")
    with unit_of_work(runtime.sessions) as session:
        assert session.scalars(select(Cart.state).where(Cart.external_id == "second")).one() == "suppressed"
    # and a cart after the cooldown starts a sequence again
    clock.advance(days=6)
    post_shopify(client, "checkouts/create", _checkout("third", clock()), webhook_id="w3")
    _walk(runtime, clock, 2)
    assert _steps(runtime, "third")[0][1] == "sent"
    assert len(outbox(runtime)) == 2


def test_an_opt_out_between_claim_and_send_stops_the_message(runtime, client, clock):
    # given a due step, already claimed by a worker
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", _checkout("t1", clock()), webhook_id="w1")
    _pass(runtime)
    clock.advance(hours=1, minutes=1)
    dispatcher = runtime.dispatcher()
    with unit_of_work(runtime.sessions) as session:
        ids = claim_due_steps(session, clock(), limit=10, token="worker-a", claim_seconds=300,
                              transactional_channel=True, keys=runtime.contacts())
    assert len(ids) == 1
    # when the customer opts out before the worker sends
    with unit_of_work(runtime.sessions) as session:
        shop_id = session.scalars(select(Cart.shop_id)).one()
        opt_out(session, shop_id, ContactRef.of(runtime.contacts(), "anna@example.com"), source="one_click",
                now=clock(), by="customer")
    dispatcher._send_in_one_transaction(ids, "worker-a")
    # then nothing was sent, the step and the cart say why
    assert outbox(runtime) == []
    assert _steps(runtime, "t1")[0][1:] == ("cancelled", "opted out")


def test_an_opt_out_recorded_without_touching_the_steps_is_still_honoured_at_send(runtime, client, clock):
    # given a claimed step and an opt-out row written straight to the table (another process,
    # an import: nothing cancelled the step)
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", _checkout("t1", clock()), webhook_id="w1")
    _pass(runtime)
    clock.advance(hours=1, minutes=1)
    with unit_of_work(runtime.sessions) as session:
        ids = claim_due_steps(session, clock(), limit=10, token="worker-a", claim_seconds=300,
                              transactional_channel=True, keys=runtime.contacts())
        cart = session.scalars(select(Cart)).one()
        session.add(OptOut(shop_id=cart.shop_id, contact_hash=runtime.contacts().email_hash("anna@example.com"),
                           kind="email", active=True, source="merchant", created_at=clock()))
    # when the worker goes on to send
    runtime.dispatcher()._send_in_one_transaction(ids, "worker-a")
    # then the last look before the provider call stops it
    assert outbox(runtime) == []
    assert _steps(runtime, "t1")[0][1:] == ("skipped", "opted out")


def test_every_message_carries_the_unsubscribe_link_and_one_click_headers(runtime, client, clock):
    # given a shop whose merchant template has no unsubscribe link at all
    from bridge.db.tables import Template
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as session:
        session.add(Template(shop_id=shop_id, step=1, language="ru", subject="Корзина", html="<p>Вернитесь</p>",
                             text="Вернитесь", updated_at=clock()))
    body = _checkout("t1", clock())
    body["customer_locale"] = "ru"
    post_shopify(client, "checkouts/create", body, webhook_id="w1")
    # when the first reminder goes out
    _walk(runtime, clock, 2)
    [entry] = outbox(runtime)
    # then it has RFC 8058 headers, and a footer link in Russian was added to both parts
    token = runtime.contacts().unsubscribe_token(shop_id, runtime.contacts().email_hash("anna@example.com"))
    url = f"http://127.0.0.1:9/u/{token}?lang=ru"
    assert entry.headers == {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert f'href="{url}"' in entry.html and "Отписаться от напоминаний" in entry.html
    assert entry.text.endswith(f"Отписаться от напоминаний: {url}\n")


def test_the_default_templates_carry_the_link_once(runtime, client, clock):
    # given a default-template shop
    shop_id = add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", _checkout("t1", clock()), webhook_id="w1")
    _walk(runtime, clock, 2)
    [entry] = outbox(runtime)
    token = runtime.contacts().unsubscribe_token(shop_id, runtime.contacts().email_hash("anna@example.com"))
    # then the template's own link is used and no footer is added
    assert entry.html.count(token) == 1
    assert entry.text.count(token) == 1
