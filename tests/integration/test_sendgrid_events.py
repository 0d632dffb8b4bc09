"""SendGrid's signed Event Webhook end to end: verified at the edge, stored once, applied by the worker.

Reminders are sent through the real flow (signed Shopify webhooks, the worker, the dev outbox or
a local SendGrid API); events are signed the way SendGrid signs them (tests/support/sendgrid_events.py).
"""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bridge.channels.sendgrid import SendGridChannel
from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Message, OptOut, OutboxEntry, ProviderEvent, ReminderStep, Shop
from bridge.runtime import Runtime
from bridge.services.optouts import ContactRef
from bridge.services.privacy import erase_contact
from bridge.services.provider_events import process_provider_events
from bridge.worker import run
from tests.conftest import make_settings
from tests.servers.sendgrid_api import SendGridTestServer
from tests.support.sendgrid_events import (SIGNATURE_HEADER, TIMESTAMP_HEADER, EventWebhookSigner, post_events,
                                           sendgrid_event)
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop, checkout, post_shopify

OTHER_SHOP = "second-shop.myshopify.com"


@pytest.fixture
def signer():
    return EventWebhookSigner()


@pytest.fixture
def public_key(signer):
    return signer.public_key


@pytest.fixture
def max_webhook_bytes():
    return 1_048_576


@pytest.fixture
def runtime(database_url, tmp_path, clock, public_key, max_webhook_bytes):
    # Overrides conftest's runtime (so its app and client use this one): the same, plus the key.
    settings = make_settings(database_url, tmp_path, sendgrid_webhook_public_key=public_key,
                             max_webhook_bytes=max_webhook_bytes)
    rt = Runtime.from_settings(settings, now=clock)
    yield rt
    rt.close()


def _sent_reminder(runtime, client, clock, token: str = "tok-1", domain: str = SHOP_DOMAIN,
                   dispatcher=None) -> Message:
    """A checkout left an hour ago and its first reminder, sent by the worker."""
    post_shopify(client, "checkouts/create", checkout(token, clock()), webhook_id=f"w-{token}", domain=domain)
    run(runtime, once=True, dispatcher=dispatcher)
    clock.advance(minutes=61)
    run(runtime, once=True, dispatcher=dispatcher)
    return _message(runtime, token)


def _message(runtime, token: str) -> Message:
    with unit_of_work(runtime.sessions) as session:
        return session.scalars(select(Message).join(Cart, Message.cart_id == Cart.id)
                               .where(Cart.external_id == token)).one()


def _steps(runtime, token: str) -> list[tuple[int, str]]:
    with unit_of_work(runtime.sessions) as session:
        rows = session.execute(select(ReminderStep.position, ReminderStep.status).join(Cart)
                               .where(Cart.external_id == token).order_by(ReminderStep.position))
        return [tuple(r) for r in rows]


def _events(runtime) -> list[ProviderEvent]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(ProviderEvent).order_by(ProviderEvent.id)))


def _opt_outs(runtime) -> list[OptOut]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(OptOut).order_by(OptOut.id)))


def _apply(runtime) -> int:
    # The worker's step (bridge.worker runs it each pass); called here so each test says when.
    return process_provider_events(runtime.sessions, runtime.contacts(), runtime.now)


def test_delivered_open_and_click_set_their_times_once(runtime, client, clock, signer):
    # given a reminder that went out
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    sent = clock()
    # when SendGrid posts processed, delivered, open and click, and the worker applies them
    batch = [sendgrid_event(kind, message, sent + timedelta(minutes=after))
             for kind, after in (("processed", 0), ("delivered", 1), ("open", 5), ("click", 6))]
    response = post_events(client, signer, batch)
    assert (response.status_code, response.json["stored"]) == (200, 4)
    assert _apply(runtime) == 4
    # and later a second open and click, a repeated delivery and a late "processed" arrive
    clock.advance(days=1)
    later = [sendgrid_event(kind, message, clock()) for kind in ("delivered", "open", "click", "processed")]
    post_events(client, signer, later)
    _apply(runtime)
    # then each time is the first one, and the status still says the customer clicked
    found = _message(runtime, "tok-1")
    assert (found.delivered_at, found.opened_at, found.clicked_at) == (
        sent + timedelta(minutes=1), sent + timedelta(minutes=5), sent + timedelta(minutes=6))
    assert found.provider_status == "click" and found.bounced_at is None
    assert {e.status for e in _events(runtime)} == {"processed"}
    assert {e.shop_id for e in _events(runtime)} == {found.shop_id}


def test_hard_bounce_opts_the_email_out_and_cancels_the_pending_steps(runtime, client, clock, signer):
    # given a reminder sent and two more planned
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    assert _steps(runtime, "tok-1") == [(1, "sent"), (2, "pending"), (3, "pending")]
    # when SendGrid reports a hard bounce that quotes the address back, and the worker applies it
    bounce = sendgrid_event("bounce", message, clock(),
                            reason=f"550 5.1.1 <{message.to_email}>: Recipient address rejected")
    assert post_events(client, signer, [bounce]).status_code == 200
    _apply(runtime)
    # then the email is opted out (its reason without the address), the sequence is stopped
    [opt_out] = _opt_outs(runtime)
    assert (opt_out.shop_id, opt_out.kind, opt_out.source, opt_out.created_by) == (
        message.shop_id, "email", "sendgrid_bounce", "sendgrid")
    assert opt_out.reason.startswith("550 5.1.1") and message.to_email not in opt_out.reason
    assert _steps(runtime, "tok-1") == [(1, "sent"), (2, "cancelled"), (3, "cancelled")]
    assert _message(runtime, "tok-1").bounced_at == clock()
    assert _events(runtime)[0].reason == "opted out (sendgrid_bounce); 2 step(s) stopped"
    # and nothing more is sent, days later
    clock.advance(days=5)
    run(runtime, once=True)
    with unit_of_work(runtime.sessions) as session:
        assert len(list(session.scalars(select(OutboxEntry)))) == 1


def test_temporary_bounce_and_a_drop_for_content_opt_nobody_out(runtime, client, clock, signer):
    # given a reminder that went out
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    # when SendGrid reports a "blocked" bounce and a drop for spam content
    batch = [sendgrid_event("bounce", message, clock(), type="blocked", reason="421 try again later"),
             sendgrid_event("dropped", message, clock(), reason="Spam Content")]
    post_events(client, signer, batch)
    _apply(runtime)
    # then only the status changed: no opt-out, the sequence goes on
    assert _opt_outs(runtime) == []
    assert _steps(runtime, "tok-1") == [(1, "sent"), (2, "pending"), (3, "pending")]
    assert _message(runtime, "tok-1").bounced_at is None
    assert [e.reason for e in _events(runtime)] == ["blocked (temporary): no opt-out",
                                                    "dropped (Spam Content): no opt-out"]


@pytest.mark.parametrize("kind, fields, source, complained", [
    ("spamreport", {}, "sendgrid_spamreport", True),
    ("unsubscribe", {}, "sendgrid_unsubscribe", False),
    ("group_unsubscribe", {}, "sendgrid_group_unsubscribe", False),
    ("dropped", {"reason": "Unsubscribed Address"}, "sendgrid_dropped", False),
])
def test_complaints_unsubscribes_and_suppressed_drops_opt_the_contact_out(runtime, client, clock, signer, kind,
                                                                          fields, source, complained):
    # given a reminder sent and two more planned
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    # when SendGrid reports the event and the worker applies it
    post_events(client, signer, [sendgrid_event(kind, message, clock(), **fields)])
    _apply(runtime)
    # then the contact is opted out of this shop and the rest of the sequence is cancelled
    assert [(o.shop_id, o.kind, o.source, o.active) for o in _opt_outs(runtime)] == [
        (message.shop_id, "email", source, True)]
    assert _steps(runtime, "tok-1") == [(1, "sent"), (2, "cancelled"), (3, "cancelled")]
    found = _message(runtime, "tok-1")
    assert (found.complained_at == clock()) is complained and found.provider_status == kind


def _forged(signer, raw):
    return {**signer.headers(raw), SIGNATURE_HEADER: base64.b64encode(b"\x30\x44" + b"\x01" * 68).decode()}


def _garbage(signer, raw):
    return {**signer.headers(raw), SIGNATURE_HEADER: "not base64 at all!"}


def _another_key(signer, raw):
    return EventWebhookSigner().headers(raw)


def _other_timestamp(signer, raw):
    return {**signer.headers(raw, timestamp="1795428000"), TIMESTAMP_HEADER: "1795428001"}


def _altered_body(signer, raw):
    return signer.headers(raw.replace(b'"open"', b'"click"'))


def _without(header):
    return lambda signer, raw: {k: v for k, v in signer.headers(raw).items() if k != header}


REFUSALS = {"forged": (_forged, "invalid_signature"), "garbage": (_garbage, "invalid_signature"),
            "another key": (_another_key, "invalid_signature"),
            "other timestamp": (_other_timestamp, "invalid_signature"),
            "body altered after signing": (_altered_body, "invalid_signature"),
            "no signature": (_without(SIGNATURE_HEADER), "missing_signature_header"),
            "no timestamp": (_without(TIMESTAMP_HEADER), "missing_signature_header")}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_batch_not_signed_by_our_sendgrid_key_gets_401_and_nothing_is_stored(runtime, client, clock, signer,
                                                                                case):
    # given a reminder that went out, and a batch about it whose signature does not hold
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    raw = json.dumps([sendgrid_event(kind, message, clock()) for kind in ("open", "spamreport")]).encode()
    make_headers, code = REFUSALS[case]
    # when it is posted
    response = client.post("/webhooks/sendgrid", data=raw, headers=make_headers(signer, raw))
    # then it is refused with a stable code, and nothing is stored or changed
    assert (response.status_code, response.json["status"]) == (401, code)
    assert _events(runtime) == [] and _apply(runtime) == 0
    assert _opt_outs(runtime) == []


@pytest.mark.parametrize("public_key, code", [(None, "no_key_configured"), ("not-a-key", "invalid_public_key")])
def test_without_a_usable_verification_key_every_batch_gets_401(runtime, client, clock, code):
    # given SENDGRID_WEBHOOK_PUBLIC_KEY unset, or not a key
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    # when a batch signed by some key arrives
    response = post_events(client, EventWebhookSigner(), [sendgrid_event("unsubscribe", message, clock())])
    # then it is refused and nothing is stored
    assert (response.status_code, response.json["status"]) == (401, code)
    assert _events(runtime) == []


def test_the_same_signed_batch_twice_is_acknowledged_twice_and_applied_once(runtime, client, clock, signer):
    # given one signed batch of a delivery (twice in it, as at-least-once delivery allows) and an unsubscribe
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    delivered = sendgrid_event("delivered", message, clock())
    raw = json.dumps([delivered, sendgrid_event("unsubscribe", message, clock()), delivered]).encode()
    headers = signer.headers(raw)
    # when SendGrid delivers it, the worker applies it, and the very same request comes again
    first = client.post("/webhooks/sendgrid", data=raw, headers=headers)
    _apply(runtime)
    second = client.post("/webhooks/sendgrid", data=raw, headers=headers)
    # then both are answered 200, the second stores nothing, and the effects happened once
    assert (first.status_code, first.json["stored"], first.json["duplicates"]) == (200, 2, 1)
    assert (second.status_code, second.json["stored"], second.json["duplicates"]) == (200, 0, 3)
    assert _apply(runtime) == 0
    assert [e.status for e in _events(runtime)] == ["processed", "processed"]
    assert len(_opt_outs(runtime)) == 1


def test_well_signed_but_unexpected_payloads_are_kept_with_a_reason(runtime, client, clock, signer):
    # given a reminder that went out
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    odd = sendgrid_event("group_resubscribe", message, clock())
    stranger = sendgrid_event("open", message, clock(), custom_args={"message_id": "999999"})
    no_id = {k: v for k, v in sendgrid_event("open", message, clock()).items() if k != "sg_event_id"}
    nul_id = sendgrid_event("open", message, clock(), sg_event_id="abc\u0000def")
    no_email = sendgrid_event("unsubscribe", message, clock(), email="\u0000")
    # when SendGrid (correctly signed) posts an object, a batch with odd elements, and bytes that are not JSON
    responses = [post_events(client, signer, sendgrid_event("open", message, clock())),
                 post_events(client, signer, [no_id, "open", 42, nul_id, odd, stranger, no_email]),
                 post_events(client, signer, b"[{\"event\": \"open\""),
                 post_events(client, signer, b"[{\"event\": \"open\"")]
    _apply(runtime)
    # then each is answered 200 and kept with a reason, the same bad body once
    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    assert responses[1].json == {"status": "stored", "received": 7, "stored": 7, "duplicates": 0, "dead": 4}
    assert [(e.status, e.reason) for e in _events(runtime)] == [
        ("dead", "body is not a JSON array of events"), ("dead", "event without sg_event_id"),
        ("dead", "event is not a JSON object"), ("dead", "event is not a JSON object"),
        ("dead", "sg_event_id is not text of at most 128 characters"),
        ("ignored", "unhandled event type: group_resubscribe"), ("ignored", "no such message"),
        ("dead", "unsubscribe event without a usable email"), ("dead", "body is not JSON")]
    assert _message(runtime, "tok-1").opened_at is None and _opt_outs(runtime) == []


def test_a_message_of_unknown_fate_is_resolved_to_sent_by_its_delivered_event(runtime, client, clock, signer):
    # given SendGrid took the reminder but the connection dropped before it answered
    add_shopify_shop(runtime)
    with SendGridTestServer("SG.events") as server:
        server.drop_next()
        dispatcher = runtime.dispatcher(SendGridChannel("SG.events", host=server.url, timeout=5))
        message = _sent_reminder(runtime, client, clock, dispatcher=dispatcher)
        [accepted] = server.accepted
    assert (message.status, _steps(runtime, "tok-1")[0]) == ("unknown", (1, "unknown"))
    # when SendGrid reports the delivery of what it accepted (its custom args, its message id)
    delivered_at = clock() + timedelta(seconds=3)
    [args] = accepted.custom_args_per_email()
    event = sendgrid_event("delivered", message, delivered_at, custom_args=args,
                           sg_message_id=f"{accepted.x_message_id}.recvd-1")
    post_events(client, signer, [event])
    _apply(runtime)
    # then the message and its step count as sent, at the delivery time, saying why
    found = _message(runtime, "tok-1")
    assert (found.status, found.sent_at, found.delivered_at) == ("sent", delivered_at, delivered_at)
    with unit_of_work(runtime.sessions) as session:
        step = session.get(ReminderStep, found.step_id)
    assert (step.status, step.sent_at, step.reason) == ("sent", delivered_at, "provider confirmed acceptance")


def test_an_event_about_shop_a_never_opts_the_contact_out_of_shop_b(runtime, client, clock, signer):
    # given two shops, each with a reminder sent to the same customer
    shop_a = add_shopify_shop(runtime)
    shop_b = add_shopify_shop(runtime, OTHER_SHOP)
    post_shopify(client, "checkouts/create", checkout("tok-b", clock()), webhook_id="w-b", domain=OTHER_SHOP)
    message_a = _sent_reminder(runtime, client, clock, "tok-a")
    assert _message(runtime, "tok-b").to_email == message_a.to_email
    # when the customer reports shop A's reminder as spam, the event even claiming shop B in its args
    args = {"message_id": str(message_a.id), "shop_id": str(shop_b), "cart_id": "1", "step": "1"}
    post_events(client, signer, [sendgrid_event("spamreport", message_a, clock(), custom_args=args)])
    _apply(runtime)
    # then only shop A stops writing to them
    assert [(o.shop_id, o.source) for o in _opt_outs(runtime)] == [(shop_a, "sendgrid_spamreport")]
    assert _steps(runtime, "tok-a") == [(1, "sent"), (2, "cancelled"), (3, "cancelled")]
    assert _steps(runtime, "tok-b") == [(1, "sent"), (2, "pending"), (3, "pending")]
    assert _events(runtime)[0].shop_id == shop_a


@pytest.mark.parametrize("max_webhook_bytes", [4096])
def test_a_batch_may_exceed_the_webhook_cap_but_not_eight_times_it(runtime, client, clock, signer):
    # given MAX_WEBHOOK_BYTES of 4 KiB and a reminder that went out
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    # when a 10 KiB batch and a 40 KiB batch arrive, both well signed
    fits = [sendgrid_event("open", message, clock(), note="x" * 10_000)]
    too_big = [sendgrid_event("open", message, clock(), note="x" * 40_000)]
    responses = [post_events(client, signer, fits), post_events(client, signer, too_big)]
    # then the first is stored and the second refused with 413, unstored
    assert [r.status_code for r in responses] == [200, 413]
    assert len(_events(runtime)) == 1


def test_events_are_logged_by_ids_and_codes_never_by_address(runtime, client, clock, signer, log_text):
    # given a reminder that went out
    add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    # when a bounce quoting the address, a forged copy of it and a spam report arrive and are applied
    bounce = sendgrid_event("bounce", message, clock(), reason=f"550 <{message.to_email}> unknown")
    post_events(client, EventWebhookSigner(), [bounce])
    post_events(client, signer, [bounce, sendgrid_event("spamreport", message, clock())])
    _apply(runtime)
    # then the log has the codes and ids, never the address or the event bodies
    text = log_text()
    assert "code=invalid_signature" in text and "code=provider_event_processed" in text
    assert f"message_id={message.id}" in text
    assert message.to_email not in text and "sg_event_id" not in text


def test_a_late_event_about_an_erased_customer_does_not_bring_the_address_back(runtime, client, clock, signer):
    # given a reminder that went out, and then the customer was erased (a privacy request)
    shop_id = add_shopify_shop(runtime)
    message = _sent_reminder(runtime, client, clock)
    with unit_of_work(runtime.sessions) as session:
        erase_contact(session, session.get(Shop, shop_id), ContactRef.of(runtime.contacts(), message.to_email),
                      clock())
    # when SendGrid reports a spam complaint about that message afterwards
    post_events(client, signer, [sendgrid_event("spamreport", message, clock())])
    _apply(runtime)
    # then the event is set aside with the reason and no row holds the address again
    [event] = _events(runtime)
    assert (event.status, event.reason, event.body) == ("ignored", "the message's recipient was erased", b"{}")
    assert _opt_outs(runtime) == []
