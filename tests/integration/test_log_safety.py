"""No email, phone, secret or raw payload reaches a log line, on the happy path or an error."""
from __future__ import annotations

import json

from bridge.services.inbox import process_inbox
from bridge.worker import run
from tests.conftest import SHOPIFY_SECRET
from tests.support.shops import add_shopify_shop, checkout, order, post_shopify

EMAIL, PHONE = "private.person@example.com", "+380501234567"


def test_the_whole_loop_logs_ids_and_codes_but_no_personal_data(runtime, client, clock, log_text):
    # given a checkout with an email and phone, a forged delivery, a reminder and an order
    add_shopify_shop(runtime)
    payload = {**checkout("tok-log", clock(), email=EMAIL), "phone": PHONE}
    post_shopify(client, "checkouts/create", payload, webhook_id="l1")
    post_shopify(client, "checkouts/create", payload, webhook_id="l2", secret="forged")
    clock.advance(minutes=61)
    run(runtime, once=True)
    post_shopify(client, "orders/create", order(1, clock(), checkout_token="tok-log", email=EMAIL), webhook_id="l3")
    run(runtime, once=True)
    # when the logs are read
    text = log_text()
    # then they carry codes and ids, never the contact, the secret or the body
    assert "code=invalid_hmac" in text and "code=send_sent" in text
    for private in (EMAIL, PHONE, SHOPIFY_SECRET, json.dumps(payload)[:40], "Linen Shirt"):
        assert private not in text


class _ExplodingConnector:
    """A hand-written fake: its normalizer fails with a message that quotes the payload."""

    def normalize(self, envelope, payload):
        raise ValueError(f"cannot handle {payload['email']}")


def test_a_processing_error_is_logged_by_type_not_by_its_message(runtime, client, clock, log_text):
    # given a stored delivery that makes processing fail with the customer's email in the message
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-err", clock(), email=EMAIL), webhook_id="e1")
    # when the inbox is processed
    report = process_inbox(runtime.sessions, {"shopify": _ExplodingConnector()}, runtime.now, runtime.contacts())
    # then the error is counted and logged by type with its frames, without the message
    text = log_text()
    assert report.errors == 1
    assert "ValueError" in text and "code=delivery_error" in text and "normalize" in text
    assert EMAIL not in text
