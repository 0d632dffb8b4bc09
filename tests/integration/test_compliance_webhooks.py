"""Shopify's privacy, uninstall and consent webhooks end to end on each database: signed
deliveries in through the HTTP edge, the real worker, and what is left afterwards."""
from __future__ import annotations

import json

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Delivery, Message, OutboxEntry, PrivacyRequest, Shop
from bridge.worker import run
from tests.support.discounts import outbox, steps
from tests.support.fixtures import load_fixture
from tests.support.shops import add_shopify_shop, checkout, post_shopify, set_manners


def _fixture(name: str, **changes) -> dict:
    body = json.loads(load_fixture("shopify", name))
    body.update(changes)
    return body


def _customer(email: str = "anna@example.com") -> dict:
    return {"id": 7001, "email": email, "phone": None}


def _sequence_started(runtime, client, clock) -> int:
    """A shop whose customer got step 1; steps 2 and 3 are pending."""
    shop_id = add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w-checkout")
    clock.advance(minutes=61)
    run(runtime, once=True)
    assert len(outbox(runtime)) == 1
    return shop_id


def test_a_customer_redacted_mid_sequence_gets_nothing_more_and_their_data_is_gone(runtime, client, clock):
    # given a running sequence: step 1 sent, steps 2 and 3 pending
    _sequence_started(runtime, client, clock)
    # when Shopify asks to redact the customer
    response = post_shopify(client, "customers/redact",
                            _fixture("customers_redact__reference.json", customer=_customer()), webhook_id="w-redact")
    assert response.status_code == 200
    run(runtime, once=True)
    clock.advance(days=4)
    run(runtime, once=True)
    # then nothing more went out, and the address survives nowhere it was kept
    assert [e for e in outbox(runtime) if "anna@example.com" in (e.to_email + e.text)] == []
    assert [s.status for _, s in sorted(steps(runtime).items())] == ["sent", "cancelled", "cancelled"]
    with unit_of_work(runtime.sessions) as session:
        cart = session.scalars(select(Cart)).one()
        assert (cart.email, cart.first_name, cart.email_hash, cart.state) == (None, None, None, "suppressed")
        assert all(b"anna@example.com" not in d.body for d in session.scalars(select(Delivery)))
        assert all(m.to_email != "anna@example.com" for m in session.scalars(select(Message)))


def test_uninstalling_the_app_stops_every_pending_reminder_and_drops_the_tokens(runtime, client, clock):
    # given a running sequence
    shop_id = _sequence_started(runtime, client, clock)
    # when the merchant uninstalls the app
    assert post_shopify(client, "app/uninstalled", _fixture("app_uninstalled__reference.json"),
                        webhook_id="w-uninstall").status_code == 200
    run(runtime, once=True)
    clock.advance(days=4)
    run(runtime, once=True)
    # then no further reminder went out and the shop holds no token
    assert len(outbox(runtime)) == 1
    assert [s.status for _, s in sorted(steps(runtime).items())] == ["sent", "cancelled", "cancelled"]
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        assert (shop.status, shop.access_token_enc, shop.refresh_token_enc) == ("uninstalled", None, None)


def test_a_compliance_body_naming_another_shop_erases_nothing(runtime, client, clock):
    # given a running sequence in our shop
    _sequence_started(runtime, client, clock)
    # when a signed redact arrives for our shop's domain header but names another shop in its body
    body = _fixture("customers_redact__reference.json", customer=_customer(), shop_domain="other.myshopify.com")
    assert post_shopify(client, "customers/redact", body, webhook_id="w-forged").status_code == 200
    run(runtime, once=True)
    # then it is kept as a dead letter with the reason, and the customer's data is untouched
    with unit_of_work(runtime.sessions) as session:
        delivery = session.scalars(select(Delivery).where(Delivery.topic == "customers/redact")).one()
        assert delivery.status == "dead" and "shop" in delivery.reason
        assert session.scalars(select(Cart.email)).one() == "anna@example.com"


def test_a_forged_compliance_webhook_is_refused_and_not_stored(runtime, client, clock):
    # given a running sequence
    _sequence_started(runtime, client, clock)
    # when a redact arrives signed with the wrong secret
    response = post_shopify(client, "customers/redact",
                            _fixture("customers_redact__reference.json", customer=_customer()),
                            webhook_id="w-forged", secret="not-the-app-secret")
    # then 401, nothing stored
    assert response.status_code == 401
    with unit_of_work(runtime.sessions) as session:
        assert session.scalars(select(Delivery).where(Delivery.topic == "customers/redact")).all() == []


def test_a_data_request_keeps_an_export_for_the_merchant(runtime, client, clock):
    # given a customer with a cart and a reminder
    shop_id = _sequence_started(runtime, client, clock)
    # when Shopify forwards the customer's data request
    body = _fixture("customers_data_request__reference.json", customer=_customer())
    post_shopify(client, "customers/data_request", body, webhook_id="w-request")
    run(runtime, once=True)
    # then an export naming their cart and message is stored under Shopify's request id
    with unit_of_work(runtime.sessions) as session:
        request = session.scalars(select(PrivacyRequest)).one()
        exported = json.dumps(request.result)
    assert (request.shop_id, request.kind, request.reference) == (shop_id, "export", str(body["data_request"]["id"]))
    assert "anna@example.com" in exported and "tok-1" in exported


def test_a_consent_webhook_lets_a_shop_that_requires_consent_remind(runtime, client, clock):
    # given a shop that requires consent and a checkout without it
    shop_id = add_shopify_shop(runtime)
    set_manners(runtime, shop_id, consent_policy="required")
    body = checkout("tok-1", clock())
    body["buyer_accepts_marketing"] = False
    post_shopify(client, "checkouts/create", body, webhook_id="w-checkout")
    run(runtime, once=True)
    # when the customer subscribes to email marketing before the first step is due
    clock.advance(minutes=30)
    consent = _fixture("customers_email_marketing_consent_update__subscribed.json", customer_id=7001,
                       email_address="anna@example.com")
    consent["email_marketing_consent"]["consent_updated_at"] = clock().isoformat()
    post_shopify(client, "customers_email_marketing_consent/update", consent, webhook_id="w-consent")
    clock.advance(minutes=31)
    run(runtime, once=True)
    # then the reminder goes out
    with unit_of_work(runtime.sessions) as session:
        assert [e.to_email for e in session.scalars(select(OutboxEntry))] == ["anna@example.com"]
