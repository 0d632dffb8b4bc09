"""The Templates page: the list, the editor (save, problems with lines, reset), the live
preview endpoint with the shop's real recent cart, and test sends that are not reminders."""
from __future__ import annotations

import dataclasses

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Message, OutboxEntry, ReminderStep, Shop, Template
from bridge.templating import default_template
from bridge.worker import run
from tests.servers.sendgrid_api import SendGridTestServer
from tests.support.admin import add_user, sign_in
from tests.support.shops import add_shopify_shop, checkout, post_shopify
from tests.support.story import seed_story

BROKEN_ON_LINE_3 = "<p>Hello</p>\n<p>\n{% if cart.items %}\n<b>never closed</b>\n</p>"


def _signed_in(runtime, client, shop_id: int) -> str:
    add_user(runtime, shop_ids=[shop_id])
    return sign_in(client)


def _edit_url(shop_id: int, step: int = 1, language: str = "en") -> str:
    return f"/admin/shops/{shop_id}/templates/{step}/{language}"


def _fields(csrf: str, **values) -> dict:
    source = default_template(1, "en")
    return {"csrf_token": csrf, "subject": source.subject, "html": source.html, "text": source.text, **values}


def _count(runtime, model) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _overrides(runtime) -> list[Template]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Template)))


def test_the_list_shows_every_step_and_language_as_the_default(runtime, client):
    # given a shop with the default three-step sequence and a "code expires soon" reminder
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as session:
        session.get(Shop, shop_id).expiry_reminder_hours = 24
    _signed_in(runtime, client, shop_id)
    # when the merchant opens the Templates page
    page = client.get(f"/admin/shops/{shop_id}/templates").get_data(as_text=True)
    # then each of the 4 reminders has a "default" cell per language, each linking to its editor
    assert "Code expires soon" in page and "Reminder 3" in page and "Ukrainian" in page
    assert page.count(">default</a>") == 4 * 5
    assert f'href="/admin/shops/{shop_id}/templates/100/kk"' in page


def test_the_editor_is_prefilled_with_the_default_and_shows_its_preview(runtime, client):
    # given a shop without overrides
    shop_id = add_shopify_shop(runtime)
    _signed_in(runtime, client, shop_id)
    # when the merchant opens reminder 2 in Russian
    response = client.get(_edit_url(shop_id, 2, "ru"))
    page = response.get_data(as_text=True)
    # then the three fields hold the shipped Russian template, and the preview is sandboxed
    default = default_template(2, "ru")
    assert response.status_code == 200
    assert str(escape(default.subject)) in page and str(escape(default.text)) in page
    assert '<iframe class="preview-frame"' in page and "sandbox" in page and "allow-scripts" not in page
    assert "a sample cart" in page and "customer.first_name" in page


def test_a_saved_override_is_what_the_worker_sends(runtime, client, clock):
    # given a signed-in merchant
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    # when they save their own subject for reminder 1 in English
    subject = "Psst {{ customer.first_name }}, your {{ cart.first_item_title }} is waiting"
    response = client.post(_edit_url(shop_id), data=_fields(csrf, subject=subject))
    # then it is stored, the list says "edited", and the next reminder uses it
    assert response.status_code == 303 and "notice=saved" in response.headers["Location"]
    assert [(t.step, t.language, t.subject) for t in _overrides(runtime)] == [(1, "en", subject)]
    assert "edited 23 Nov 2026" in client.get(f"/admin/shops/{shop_id}/templates").get_data(as_text=True)
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w-1")
    for _ in range(3):
        clock.advance(hours=1)
        run(runtime, once=True)
    with runtime.sessions() as session:
        assert session.scalars(select(Message.subject)).all() == ["Psst Anna, your Linen Shirt is waiting"]


def test_a_liquid_syntax_error_is_shown_with_its_line_and_nothing_is_saved(runtime, client):
    # given a signed-in merchant
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    # when they save HTML whose {% if %} on line 3 is never closed
    response = client.post(_edit_url(shop_id), data=_fields(csrf, html=BROKEN_ON_LINE_3))
    page = response.get_data(as_text=True)
    # then the page comes back with the problem next to the HTML field, their text kept
    assert response.status_code == 422
    assert 'id="e-html">HTML line 3: expected tag endif' in page
    assert str(escape(BROKEN_ON_LINE_3)) in page
    assert _overrides(runtime) == []


def test_the_preview_endpoint_renders_the_shops_real_recent_cart(runtime, client, clock):
    # given a shop with real carts (Dmytro's is the Ukrainian one)
    story = seed_story(runtime, client, clock)
    csrf = _signed_in(runtime, client, story.shop_id)
    fields = {"subject": "{{ customer.first_name }}: {{ cart.first_item_title }}", "html": "<p>{{ cart.total }}</p>",
              "text": "{{ cart.total }}"}
    # when the editor asks for a preview of the Ukrainian template, as JSON
    response = client.post(_edit_url(story.shop_id, 1, "uk") + "/preview", json=fields,
                           headers={"X-CSRF-Token": csrf})
    # then the subject names Dmytro's product, and the text carries the unsubscribe footer
    data = response.get_json()
    assert response.status_code == 200 and data["problems"] == []
    assert data["subject"] == "Dmytro: Linen Shirt"
    assert "unsubscribe.invalid" in data["text"] and "71,00" in data["text"]
    # and the English preview uses one of the English customers' carts, not the sample
    english = client.post(_edit_url(story.shop_id) + "/preview", data=fields, headers={"X-CSRF-Token": csrf})
    assert english.get_json()["subject"].split(":")[0] in {"Anna", "Boris", "Chloe"}


def test_the_preview_endpoint_reports_problems_with_their_lines(runtime, client):
    # given a signed-in merchant
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    # when the typed template has an unknown filter in the subject and an open {% if %} in the HTML
    response = client.post(_edit_url(shop_id) + "/preview", headers={"X-CSRF-Token": csrf},
                           json={"subject": "{{ shop.name | shout }}", "html": BROKEN_ON_LINE_3, "text": "ok"})
    # then each problem comes back with its field and line, and nothing is rendered
    data = response.get_json()
    assert [(p["field"], p["line"]) for p in data["problems"]] == [("subject", 1), ("html", 3)]
    assert "shout" in data["problems"][0]["message"] and data["subject"] == ""


def test_reset_deletes_the_override(runtime, client):
    # given a saved override
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    client.post(_edit_url(shop_id), data=_fields(csrf, subject="Mine"))
    assert len(_overrides(runtime)) == 1
    # when the merchant resets it
    response = client.post(_edit_url(shop_id) + "/reset", data={"csrf_token": csrf})
    # then the default is back
    assert response.status_code == 303 and "notice=reset" in response.headers["Location"]
    assert _overrides(runtime) == []
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Template reset to the default." in page and str(escape(default_template(1, "en").subject)) in page


def test_a_test_send_lands_in_the_outbox_and_is_not_a_reminder(runtime, client, clock, log_text):
    # given a shop with real reminders already sent (no SendGrid key: the dev outbox)
    story = seed_story(runtime, client, clock)
    csrf = _signed_in(runtime, client, story.shop_id)
    with runtime.sessions() as session:
        steps_before = session.execute(select(ReminderStep.id, ReminderStep.status)).all()
    messages_before = _count(runtime, Message)
    # when the merchant sends the typed template as a test to their own address
    response = client.post(_edit_url(story.shop_id) + "/test",
                           data=_fields(csrf, subject="Hi {{ customer.first_name }}", test_address=" Me@Shop.example "))
    # then it is in the outbox, marked as a test, and no reminder was made or changed
    assert response.status_code == 200 and "Test message sent." in response.get_data(as_text=True)
    with runtime.sessions() as session:
        test = session.scalars(select(OutboxEntry).where(OutboxEntry.kind == "test")).one()
        assert session.execute(select(ReminderStep.id, ReminderStep.status)).all() == steps_before
    assert (test.to_email, test.subject, test.message_id) == ("me@shop.example", "[Test] Hi Alex", None)
    assert _count(runtime, Message) == messages_before
    assert "code=template_test_sent" in log_text() and "shop.example" not in log_text().lower()


def _with_sendgrid(runtime, server, instance_key: str) -> None:
    """SendGrid configured (as in production): the app reads its settings per request."""
    runtime.settings = dataclasses.replace(runtime.settings, sendgrid_api_key=instance_key,
                                           sendgrid_api_host=server.url, send_timeout_seconds=2.0)


@pytest.fixture
def sendgrid(runtime):
    with SendGridTestServer(api_key="SG.test-key") as server:
        _with_sendgrid(runtime, server, "SG.test-key")
        yield server


def test_with_sendgrid_configured_a_test_send_goes_through_sendgrid(runtime, client, sendgrid):
    # given a shop whose installation sends through SendGrid
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    # when the merchant sends a test
    response = client.post(_edit_url(shop_id) + "/test",
                           data=_fields(csrf, subject="Hi", test_address="me@shop.example"))
    # then SendGrid accepted exactly that one message, which no provider event can tie to a reminder
    assert response.status_code == 200 and "Test message sent." in response.get_data(as_text=True)
    [mail] = sendgrid.accepted
    assert mail.body["subject"] == "[Test] Hi"
    assert mail.body["personalizations"][0]["to"] == [{"email": "me@shop.example"}]
    assert mail.custom_args_per_email()[0]["message_id"] == "test"
    assert _count(runtime, OutboxEntry) == 0 and _count(runtime, Message) == 0


def test_a_test_send_sendgrid_refuses_is_shown_on_the_address(runtime, client, sendgrid):
    # given SendGrid that refuses the next message
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    sendgrid.fail_next(status=403, message="The from address does not match a verified Sender Identity")
    # when the merchant sends a test
    response = client.post(_edit_url(shop_id) + "/test", data=_fields(csrf, test_address="me@shop.example"))
    # then the address field says it could not be sent, and why
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="e-test_address">Test address could not be sent: sendgrid 403' in page
    assert "verified Sender Identity" in page


def test_a_shop_with_its_own_sendgrid_key_sends_its_test_through_its_own_account(runtime, client):
    # given an instance key, and a shop that set its own key (the only one this SendGrid accepts)
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as session:
        session.get(Shop, shop_id).sendgrid_api_key_enc = runtime.box.seal("SG.shop-own-key")
    csrf = _signed_in(runtime, client, shop_id)
    with SendGridTestServer(api_key="SG.shop-own-key") as server:
        _with_sendgrid(runtime, server, "SG.instance-key")
        # when the merchant sends a test
        response = client.post(_edit_url(shop_id) + "/test", data=_fields(csrf, test_address="me@shop.example"))
        # then it went out through the shop's own account, as its reminders do
        assert response.status_code == 200 and len(server.accepted) == 1


def test_a_bad_test_address_is_a_field_error(runtime, client):
    # given a signed-in merchant
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    # when they send a test to something that is not an address
    response = client.post(_edit_url(shop_id) + "/test", data=_fields(csrf, test_address="me at shop"))
    # then the address field says why, keeps what was typed, and nothing is sent
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="e-test_address">Test address is not an email address' in page and 'value="me at shop"' in page
    assert _count(runtime, OutboxEntry) == 0


def test_another_shops_templates_are_not_found(runtime, client):
    # given a merchant who manages one shop only
    mine = add_shopify_shop(runtime)
    other = add_shopify_shop(runtime, "someone-else.myshopify.com")
    csrf = _signed_in(runtime, client, mine)
    # when they reach for the other shop's templates, or a language we do not have
    # then every way in is a 404 and nothing is saved
    assert client.get(f"/admin/shops/{other}/templates").status_code == 404
    assert client.get(_edit_url(other)).status_code == 404
    assert client.post(_edit_url(other), data=_fields(csrf, subject="x")).status_code == 404
    assert client.post(_edit_url(other) + "/preview", data=_fields(csrf)).status_code == 404
    assert client.get(_edit_url(mine, 1, "de")).status_code == 404
    assert client.get(_edit_url(mine, 7, "en")).status_code == 404
    assert _overrides(runtime) == []


def test_posts_without_the_csrf_token_are_refused(runtime, client):
    # given a signed-in merchant
    shop_id = add_shopify_shop(runtime)
    _signed_in(runtime, client, shop_id)
    # when a save, a preview or a test send arrives without the session's CSRF token
    save = client.post(_edit_url(shop_id), data=_fields("", subject="Forged"))
    preview = client.post(_edit_url(shop_id) + "/preview", json={"subject": "x", "html": "x", "text": "x"})
    test = client.post(_edit_url(shop_id) + "/test", data=_fields("forged", test_address="me@shop.example"))
    # then each is refused and nothing happened
    assert (save.status_code, preview.status_code, test.status_code) == (400, 400, 400)
    assert _overrides(runtime) == [] and _count(runtime, OutboxEntry) == 0
