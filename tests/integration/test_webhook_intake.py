"""The webhook edge: what is stored, what is refused, and that nothing verified is lost."""
from __future__ import annotations

import json

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Delivery
from bridge.worker import run
from tests.conftest import SHOPIFY_OLD_SECRET
from tests.support.fixtures import load_fixture, raw_body
from tests.support.shops import add_shopify_shop, add_woo_shop, checkout, post_shopify, post_woo


def _deliveries(runtime) -> list[Delivery]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_forged_shopify_signature_gets_401_and_nothing_is_stored(runtime, client, clock):
    # given a known shop
    add_shopify_shop(runtime)
    # when a delivery is signed with the wrong secret, or not signed at all
    forged = post_shopify(client, "checkouts/create", checkout("t", clock()), webhook_id="f1", secret="guess")
    unsigned = post_shopify(client, "checkouts/create", checkout("t", clock()), webhook_id="f2",
                            overrides={"X-Shopify-Hmac-Sha256": None})
    # then both are refused and the inbox stays empty
    assert (forged.status_code, forged.json["status"]) == (401, "invalid_hmac")
    assert (unsigned.status_code, unsigned.json["status"]) == (401, "missing_hmac_header")
    assert _deliveries(runtime) == []


def test_previous_shopify_secret_is_accepted_during_rotation(runtime, client, clock):
    # given the app secret was rotated and Shopify still signs some deliveries with the old one
    add_shopify_shop(runtime)
    # when such a delivery arrives
    response = post_shopify(client, "checkouts/create", checkout("t", clock()), webhook_id="r1",
                            secret=SHOPIFY_OLD_SECRET)
    # then it is accepted and stored
    assert response.status_code == 200
    assert len(_deliveries(runtime)) == 1


def test_unknown_shop_gets_401_and_nothing_is_stored(runtime, client, clock):
    # given no shop with this domain or id
    add_shopify_shop(runtime)
    # when correctly signed deliveries name an unknown shop
    shopify = post_shopify(client, "checkouts/create", checkout("t", clock()), webhook_id="u1",
                           domain="stranger.myshopify.com")
    woo = post_woo(client, 999, "order.updated", {"id": 1, "status": "pending"})
    # then both are refused
    assert (shopify.status_code, woo.status_code) == (401, 401)
    assert _deliveries(runtime) == []


def test_oversized_body_gets_413_and_nothing_is_stored(runtime, client, clock):
    # given a body larger than MAX_WEBHOOK_BYTES
    add_shopify_shop(runtime)
    big = json.dumps({"padding": "x" * (runtime.settings.max_webhook_bytes + 10)}).encode()
    # when it is posted, signed
    response = post_shopify(client, "checkouts/create", big, webhook_id="big")
    # then it is refused as too large
    assert response.status_code == 413
    assert _deliveries(runtime) == []


def test_woocommerce_creation_ping_gets_200_and_is_not_stored(runtime, client):
    # given a WooCommerce shop
    shop_id = add_woo_shop(runtime)
    # when WooCommerce sends its unsigned ping on webhook creation
    # (the exact body of ../shared/reference/payloads/woocommerce__ping.body.txt)
    response = client.post(f"/webhooks/woocommerce/{shop_id}", data=b"webhook_id=16",
                           content_type="application/x-www-form-urlencoded")
    # then set-up succeeds and nothing is stored
    assert response.status_code == 200
    assert _deliveries(runtime) == []


def test_woocommerce_real_body_verifies_on_the_exact_bytes(runtime, client):
    # given the captured WooCommerce body (PHP json_encode with \/ escapes) and its real signature
    headers = json.loads(load_fixture("woocommerce", "order_created__completed.headers.json"))
    shop_id = add_woo_shop(runtime, secret=headers["_test_secret"])
    body = raw_body("woocommerce", "order_created__completed.json")
    # when it is delivered with the captured headers
    response = client.post(f"/webhooks/woocommerce/{shop_id}", data=body, headers=headers["headers"])
    # then it verifies and is stored byte for byte
    assert response.status_code == 200
    assert _deliveries(runtime)[0].body == body


def test_signed_garbage_is_kept_with_a_reason_never_a_500(runtime, client):
    # given well-signed deliveries that cannot be used: not JSON, and an unknown topic
    add_shopify_shop(runtime)
    garbage = post_shopify(client, "checkouts/create", b"{not json", webhook_id="g1")
    unknown = post_shopify(client, "products/create", {"id": 1}, webhook_id="g2")
    # when the worker processes them
    run(runtime, once=True)
    # then they were accepted, and kept as dead letters with the reason
    assert (garbage.status_code, unknown.status_code) == (200, 200)
    rows = {d.delivery_key: d for d in _deliveries(runtime)}
    assert rows["g1"].status == "dead" and rows["g1"].reason.startswith("unparseable body")
    assert rows["g2"].status == "dead" and "products/create" in rows["g2"].reason


def test_wrong_payload_shape_for_a_handled_topic_is_dead_lettered(runtime, client):
    # given a signed checkouts/create whose body is a JSON list
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", [1, 2, 3], webhook_id="shape")
    # when processed
    run(runtime, once=True)
    # then it is kept with a reason, not lost and not retried forever
    delivery = _deliveries(runtime)[0]
    assert delivery.status == "dead" and delivery.reason


def test_signed_delivery_without_a_topic_is_kept_as_a_dead_letter(runtime, client, clock):
    # given a correctly signed Shopify delivery that lacks X-Shopify-Topic
    add_shopify_shop(runtime)
    response = post_shopify(client, "checkouts/create", checkout("t", clock()), webhook_id="nt",
                            overrides={"X-Shopify-Topic": None})
    # then it is acknowledged, and kept with the reason rather than dropped or answered with a 500
    assert response.status_code == 200
    [delivery] = _deliveries(runtime)
    assert delivery.status == "dead" and "topic" in delivery.reason.lower()


def test_a_signed_checkout_with_an_odd_currency_is_dead_lettered_at_once(runtime, client, clock):
    # given a correctly signed checkout whose currency is not an ISO code
    add_shopify_shop(runtime)
    payload = {**checkout("tok-odd", clock()), "currency": "EURO", "presentment_currency": "EURO"}
    post_shopify(client, "checkouts/create", payload, webhook_id="odd")
    # when it is processed once
    run(runtime, once=True)
    # then it is kept as a dead letter naming the field, on every database, not retried
    [delivery] = _deliveries(runtime)
    assert (delivery.status, delivery.attempts) == ("dead", 1)
    assert "currency" in delivery.reason
