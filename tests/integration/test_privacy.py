"""Privacy requests on each database: the data export, a customer's erasure in the middle of
a running sequence, the shop's erasure, and the app's uninstall.

Carts come in as signed webhooks through the worker; the privacy requests are applied as
the shared-model events the Shopify connector produces, through ``apply_event``.
"""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bridge.db.engine import unit_of_work
from bridge.db.tables import (Base, Cart, CartItem, ContactLedger, Delivery, Discount, InstallRequest, Message,
                              MessageAttempt, OpenOrderCheck, OptOut, OutboxEntry, PrivacyRequest, ProviderEvent,
                              ReminderStep, Shop, ShopSync, Template)
from bridge.db.upsert import insert_ignore
from tests.support.admin import add_user
from bridge.model import AppUninstalled, Contact, CustomerDataRequested, CustomerRedacted, ShopRedacted
from bridge.services import optouts
from bridge.services.events import apply_event
from bridge.services.optouts import ContactRef
from bridge.services.privacy import SHOP_SECRETS, TOKEN_COLUMNS
from bridge.worker import run
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop, checkout, order, post_shopify

ANNA = "anna@example.com"
OTHER_DOMAIN = "other-shop.myshopify.com"


def _pass(runtime):
    return run(runtime, once=True)


def _apply(runtime, shop_id: int, event) -> None:
    with unit_of_work(runtime.sessions) as session:
        apply_event(session, session.get(Shop, shop_id), event, runtime.now(), runtime.contacts())


def _steps(runtime, token: str) -> list[tuple[int, str, str | None]]:
    with unit_of_work(runtime.sessions) as session:
        return [tuple(r) for r in session.execute(
            select(ReminderStep.position, ReminderStep.status, ReminderStep.reason).join(Cart)
            .where(Cart.external_id == token).order_by(ReminderStep.position))]


def _cart(runtime, token: str) -> Cart:
    with unit_of_work(runtime.sessions) as session:
        return session.scalars(select(Cart).where(Cart.external_id == token)).one()


def _count(runtime, model, *where) -> int:
    with unit_of_work(runtime.sessions) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _abandoned_with_first_reminder(runtime, client, clock, token: str = "tok-1", domain: str = SHOP_DOMAIN) -> None:
    """A checkout left now, processed, then an hour later its first reminder sent."""
    post_shopify(client, "checkouts/create", checkout(token, clock()), webhook_id=f"w-{token}", domain=domain)
    _pass(runtime)
    clock.advance(minutes=61)
    _pass(runtime)


def _where_it_appears(runtime, needle: str) -> list[str]:
    """Every table.column holding ``needle`` (any case), scanning every value of every row."""
    found = set()
    with runtime.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                for column, value in row._mapping.items():
                    if needle.lower() in _as_text(value):
                        found.add(f"{table.name}.{column}")
    return sorted(found)


def _as_text(value) -> str:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("utf-8", "replace").lower()
    return (json.dumps(value) if isinstance(value, (dict, list)) else str(value)).lower()


def test_a_redaction_mid_sequence_stops_it_and_leaves_the_email_nowhere(runtime, client, clock):
    # given Anna's abandoned checkout whose first reminder went out, steps 2 and 3 pending
    shop_id = add_shopify_shop(runtime)
    # and an older order of hers that named no cart (only its order row and raw body hold her email)
    post_shopify(client, "orders/create", order(900, clock() - timedelta(days=40)), webhook_id="w-old-order")
    _abandoned_with_first_reminder(runtime, client, clock)
    assert [s[:2] for s in _steps(runtime, "tok-1")] == [(1, "sent"), (2, "pending"), (3, "pending")]
    assert _where_it_appears(runtime, ANNA) != []
    # when Shopify asks to redact her (the address typed in another case)
    _apply(runtime, shop_id, CustomerRedacted(Contact(email="Anna@Example.com", customer_id="7001"),
                                              order_ids=("900",)))
    # and the worker keeps running well past the whole sequence
    for _ in range(4):
        clock.advance(days=1)
        _pass(runtime)
    # then nothing more was sent: the steps not sent were cancelled as erased, the cart suppressed
    assert _steps(runtime, "tok-1") == [(1, "sent", None), (2, "cancelled", "customer data erased"),
                                        (3, "cancelled", "customer data erased")]
    assert (_count(runtime, Message), _count(runtime, OutboxEntry)) == (1, 0)
    cart = _cart(runtime, "tok-1")
    assert (cart.state, cart.email, cart.first_name, cart.customer_id, cart.email_hash) == (
        "suppressed", None, None, None, None)
    # and her email is in no column of any table
    assert _where_it_appears(runtime, ANNA) == []
    # and the erasure is on record, with what it changed and whom it was about (as a hash only)
    with unit_of_work(runtime.sessions) as session:
        request = session.scalars(select(PrivacyRequest)).one()
    assert (request.kind, request.source, request.contact_hash) == ("erase", "shopify",
                                                                    runtime.contacts().email_hash(ANNA))
    assert request.result["carts"] == 1 and request.result["steps_cancelled"] == 2
    assert request.result["orders"] == 1 and request.result["webhook_deliveries"] == 2


def test_a_redaction_erases_raw_bodies_naming_the_address_and_only_those(runtime, client, clock):
    # given orders that matched no cart: two for a non-ASCII address (raw UTF-8, and \\u-escaped
    # as Python and PHP write it) and one for Hanna, whose address ends like Anna's
    shop_id = add_shopify_shop(runtime)
    jorg = "jörg@exämple.de"
    raw = json.dumps(order(1, clock(), email="Jörg@Exämple.de"), ensure_ascii=False).encode()
    escaped = json.dumps(order(2, clock(), email=jorg)).encode()
    assert b"\\u00f6" in escaped and "ö".encode() in raw
    for webhook_id, body in (("w-raw", raw), ("w-escaped", escaped)):
        post_shopify(client, "orders/create", body, webhook_id=webhook_id)
    hanna = json.dumps(order(3, clock(), email="hanna@example.com")).encode()
    post_shopify(client, "orders/create", hanna, webhook_id="w-hanna")
    _pass(runtime)
    # when Jörg and then Anna are redacted
    _apply(runtime, shop_id, CustomerRedacted(Contact(email=jorg)))
    _apply(runtime, shop_id, CustomerRedacted(Contact(email=ANNA)))
    # then both of Jörg's bodies are emptied, and Hanna's is kept as it came
    with unit_of_work(runtime.sessions) as session:
        bodies = dict(session.execute(select(Delivery.delivery_key, Delivery.body)).all())
    assert (bodies["w-raw"], bodies["w-escaped"], bodies["w-hanna"]) == (b"{}", b"{}", hanna)


def test_the_opt_out_outlives_the_redaction_and_still_blocks_a_new_cart(runtime, client, clock):
    # given Anna, who opted out of a shop's reminders through the unsubscribe link
    shop_id = add_shopify_shop(runtime)
    keys = runtime.contacts()
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w1")
    _pass(runtime)
    with unit_of_work(runtime.sessions) as session:
        optouts.opt_out(session, shop_id, ContactRef.of(keys, ANNA), source="link", now=clock(), by="customer")
    # when she is redacted
    _apply(runtime, shop_id, CustomerRedacted(Contact(email=ANNA)))
    # then the opt-out stays active, its hash kept and the address itself gone
    with unit_of_work(runtime.sessions) as session:
        row = session.scalars(select(OptOut)).one()
    assert (row.contact_hash, row.active, row.display) == (keys.email_hash(ANNA), True, None)
    # when she comes back with a new checkout
    clock.advance(days=2)
    post_shopify(client, "checkouts/create", checkout("tok-2", clock()), webhook_id="w2")
    _pass(runtime)
    # then the new cart's contact is still opted out
    new_cart = _cart(runtime, "tok-2")
    with unit_of_work(runtime.sessions) as session:
        assert optouts.is_opted_out(session, shop_id, ContactRef(email_hash=new_cart.email_hash))
        assert optouts.is_opted_out(session, shop_id, ContactRef.of(keys, ANNA))


def test_the_data_export_holds_the_customers_data_and_nobody_elses(runtime, client, clock):
    # given Anna in shop A (a cart that got a reminder and then her order, an opt-out), Bob in the
    # same shop, and Anna again in another shop
    shop_a = add_shopify_shop(runtime)
    shop_b = add_shopify_shop(runtime, OTHER_DOMAIN)
    bob = checkout("tok-bob", clock(), email="bob@example.com", first_name="Bob")
    bob["customer"]["id"] = 7002
    post_shopify(client, "checkouts/create", bob, webhook_id="w-bob")
    post_shopify(client, "checkouts/create", checkout("tok-anna-b", clock()), webhook_id="w-b", domain=OTHER_DOMAIN)
    _abandoned_with_first_reminder(runtime, client, clock, "tok-anna")
    bob_order = order(4002, clock(), checkout_token="tok-bob", email="bob@example.com")
    bob_order["customer"]["id"] = 7002
    post_shopify(client, "orders/create", order(4001, clock(), checkout_token="tok-anna"), webhook_id="w-o1")
    post_shopify(client, "orders/create", bob_order, webhook_id="w-o2")
    _pass(runtime)
    with unit_of_work(runtime.sessions) as session:
        for shop_id, email in ((shop_a, ANNA), (shop_a, "bob@example.com"), (shop_b, ANNA)):
            optouts.opt_out(session, shop_id, ContactRef.of(runtime.contacts(), email), source="link",
                            now=clock(), by="customer")
    # when Shopify asks for Anna's data in shop A
    _apply(runtime, shop_a, CustomerDataRequested(Contact(email=ANNA, customer_id="7001"), request_id="9001"))
    # then the stored export holds her cart with its items, reminders and messages
    with unit_of_work(runtime.sessions) as session:
        request = session.scalars(select(PrivacyRequest)).one()
    export = request.result
    assert (request.shop_id, request.kind, request.source, request.reference) == (shop_a, "export", "shopify", "9001")
    [cart] = export["carts"]
    assert (cart["external_id"], cart["email"], cart["state"], cart["total"]) == ("tok-anna", ANNA, "recovered",
                                                                                 "98.00")
    assert [(i["title"], i["quantity"], i["unit_price"]) for i in cart["items"]] == [("Linen Shirt", 2, "49.00")]
    assert [(s["position"], s["status"]) for s in cart["reminders"]] == [(1, "sent"), (2, "cancelled"),
                                                                         (3, "cancelled")]
    [message] = cart["messages"]
    assert message["to_email"] == ANNA and "Linen Shirt" in message["subject"] and message["sent_at"]
    # and her order, her opt-out and the raw deliveries about her
    assert [(o["order_id"], o["total"], o["currency"]) for o in export["orders"]] == [("4001", "98.00", "USD")]
    assert [(o["kind"], o["display"], o["active"], o["source"]) for o in export["opt_outs"]] == [
        ("email", ANNA, True, "link")]
    assert sorted(w["topic"] for w in export["webhooks"]) == ["checkouts/create", "orders/create"]
    assert all(w["body"]["email"] == ANNA for w in export["webhooks"])
    # and nothing about Bob, nor about her cart in the other shop
    dumped = json.dumps(export)
    assert "bob" not in dumped.lower() and "4002" not in dumped and "tok-anna-b" not in dumped
    assert OTHER_DOMAIN not in dumped


def _shop_rows(session, shop_id: int) -> dict[str, int]:
    """Rows of every table that belong to the shop (through their cart or message when the
    table has no shop column)."""
    counts = {}
    through = {"cart_items": (CartItem.cart_id, Cart.id), "message_attempts": (MessageAttempt.message_id, Message.id)}
    for table in Base.metadata.sorted_tables:
        if table.name in through:
            link, parent = through[table.name]
            query = select(func.count()).select_from(table).join(parent.table, link == parent).where(
                parent.table.c.shop_id == shop_id)
        elif "shop_id" in table.c:
            query = select(func.count()).select_from(table).where(table.c.shop_id == shop_id)
        elif table.name == "shops":
            query = select(func.count()).select_from(table).where(table.c.id == shop_id)
        else:
            continue
        counts[table.name] = session.scalar(query)
    return counts


def _everything_a_shop_holds(runtime, client, clock, shop_id: int, domain: str) -> None:
    _abandoned_with_first_reminder(runtime, client, clock, f"tok-{shop_id}", domain=domain)
    post_shopify(client, "orders/create", order(100 + shop_id, clock()), webhook_id=f"w-order-{shop_id}",
                 domain=domain)
    _pass(runtime)
    keys, now = runtime.contacts(), clock()
    with unit_of_work(runtime.sessions) as session:
        optouts.opt_out(session, shop_id, ContactRef.of(keys, ANNA), source="link", now=now, by="customer")
        message = session.scalars(select(Message).where(Message.shop_id == shop_id)).one()
        message_id = message.id
        session.add_all([
            Discount(shop_id=shop_id, cart_id=message.cart_id, step=2, code=f"CB-{shop_id}", kind="percentage",
                     value=Decimal("10"), currency="USD", starts_at=now, expires_at=now + timedelta(hours=72),
                     status="active", created_at=now, updated_at=now),
            Template(shop_id=shop_id, step=1, language="en", subject="Hi", html="<p>Hi</p>", text="Hi", updated_at=now),
            ProviderEvent(provider="sendgrid", event_id=f"sg-{shop_id}", event="delivered", message_id=message_id,
                          shop_id=shop_id, body=json.dumps({"email": ANNA}).encode(), received_at=now,
                          status="processed"),
            # A merchant's test send from the admin page (no message behind it).
            OutboxEntry(message_id=None, kind="test", shop_id=shop_id, to_email=ANNA, from_email="shop@example.com",
                        subject="[Test] Hi", html="", text="", headers={}, created_at=now),
            # Reconciliation state (not due: no platform to call here) and a finished install.
            ShopSync(shop_id=shop_id, cursors={"checkouts": now.isoformat()}, webhook_ids={"orders/create": "gid-1"},
                     next_sync_at=now + timedelta(days=365), next_health_at=now + timedelta(days=365)),
            InstallRequest(platform="shopify", nonce=f"nonce-{shop_id}", domain=domain, created_at=now,
                           expires_at=now + timedelta(hours=1), used_at=now, shop_id=shop_id)])
        # The sending path may already have written these (frequency cap, open-order check).
        insert_ignore(session, ContactLedger, dict(shop_id=shop_id, contact_hash=keys.email_hash(ANNA),
                                                   last_message_at=now), ("shop_id", "contact_hash"))
        insert_ignore(session, OpenOrderCheck, dict(shop_id=shop_id, contact_hash=keys.email_hash(ANNA),
                                                    checked_at=now), ("shop_id", "contact_hash"))
    _apply(runtime, shop_id, CustomerDataRequested(Contact(email=ANNA), request_id=f"r-{shop_id}"))
    add_user(runtime, f"staff-{shop_id}@agency.example", shop_ids=[shop_id])    # an admin grant


def test_shop_redact_leaves_only_the_tombstone_and_the_other_shop_untouched(runtime, client, clock):
    # given two shops, each holding every kind of row
    gone = add_shopify_shop(runtime)
    kept = add_shopify_shop(runtime, OTHER_DOMAIN)
    _everything_a_shop_holds(runtime, client, clock, gone, SHOP_DOMAIN)
    _everything_a_shop_holds(runtime, client, clock, kept, OTHER_DOMAIN)
    with unit_of_work(runtime.sessions) as session:
        before = _shop_rows(session, kept)
        assert [name for name, n in before.items() if not n] == []
    # when Shopify asks to erase the first shop
    _apply(runtime, gone, ShopRedacted())
    # then no row of it is left but the shop itself and its delivery records, bodies emptied
    with unit_of_work(runtime.sessions) as session:
        left = {name: n for name, n in _shop_rows(session, gone).items() if n}
        bodies = set(session.scalars(select(Delivery.body).where(Delivery.shop_id == gone)))
        shop = session.get(Shop, gone)
        after = _shop_rows(session, kept)
    assert set(left) == {"shops", "webhook_deliveries"} and left["shops"] == 1
    assert bodies == {b"{}"}
    # and the shop row is a tombstone: redacted, without a secret or a sender
    assert shop.status == "redacted"
    assert {column: getattr(shop, column) for column in SHOP_SECRETS} == dict.fromkeys(SHOP_SECRETS)
    # and the other shop still holds exactly what it held
    assert after == before


def test_app_uninstalled_cancels_pending_steps_and_drops_the_tokens(runtime, client, clock):
    # given a shop with an expiring offline token and a checkout whose reminders are planned
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        shop.refresh_token_enc = runtime.box.seal("shprt_refresh")
        shop.access_token_expires_at = shop.refresh_token_expires_at = clock() + timedelta(hours=1)
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w1")
    _pass(runtime)
    # when the merchant uninstalls the app
    uninstalled_at = clock()
    _apply(runtime, shop_id, AppUninstalled(occurred_at=uninstalled_at))
    # then every step is cancelled at once, the shop stops and forgets its tokens
    assert _steps(runtime, "tok-1") == [(n, "cancelled", "app uninstalled") for n in (1, 2, 3)]
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
    assert (shop.status, shop.uninstalled_at) == ("uninstalled", uninstalled_at)
    assert {column: getattr(shop, column) for column in TOKEN_COLUMNS} == dict.fromkeys(TOKEN_COLUMNS)
    # and nothing goes out however long the worker runs, while the cart stays for a reinstall
    clock.advance(days=4)
    _pass(runtime)
    assert _count(runtime, Message) == 0
    assert _cart(runtime, "tok-1").email == ANNA


def test_a_late_uninstall_does_not_revive_a_redacted_shop(runtime, client, clock):
    # given a shop already erased by shop/redact
    shop_id = add_shopify_shop(runtime)
    _apply(runtime, shop_id, ShopRedacted())
    # when app/uninstalled arrives after it (Shopify does not order deliveries)
    _apply(runtime, shop_id, AppUninstalled(occurred_at=clock() - timedelta(days=2)))
    # then the shop stays a redacted tombstone
    with unit_of_work(runtime.sessions) as session:
        assert session.get(Shop, shop_id).status == "redacted"
