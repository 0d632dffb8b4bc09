"""The Sequence page through the real app and database: the stored sequence and its summary,
saving steps and discounts, adding and removing steps without saving, every refused value
(422, the reason next to its field, what was typed kept, nothing saved), CSRF, other shops.

The shop starts with plain reminders at 60, 1440 and 4320 minutes (tests/support/shops.py).
"""
from __future__ import annotations

import html as html_lib
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from bridge.db.tables import ReminderStep, Shop
from bridge.discounts import DiscountKind
from bridge.services.shops import sequence_of
from bridge.worker import run
from tests.support.admin import add_user, sign_in
from tests.support.shops import add_shopify_shop, checkout, post_shopify

OTHER_DOMAIN = "other-shop.myshopify.com"


def stored(runtime, shop_id: int):
    """The saved sequence and the shop's two discount settings."""
    with runtime.sessions() as db:
        shop = db.get(Shop, shop_id)
        return sequence_of(db, shop), shop.send_without_discount, shop.expiry_reminder_hours


def plain_form(csrf: str, **changes) -> dict:
    """The form as the page shows it for the starting shop, with ``changes`` typed over it."""
    data = {"csrf_token": csrf, "idle_minutes": "60", "step_count": "3", "expiry_reminder_hours": ""}
    for n, delay in enumerate(("60", "1440", "4320"), 1):
        data.update({f"step{n}_delay": delay, f"step{n}_channel": "email", f"step{n}_enabled": "1",
                     f"step{n}_discount": "none", f"step{n}_value": "", f"step{n}_valid_hours": "72",
                     f"step{n}_minimum": "", f"step{n}_prefix": "CB-"})
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def error_of(page: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" id="e-{field}">(.*?)</p>', page, re.S)
    return html_lib.unescape(found.group(1)) if found else None


def value_of(page: str, field: str) -> str | None:
    found = re.search(rf'id="f-{field}" name="{field}" value="([^"]*)"', page)
    return html_lib.unescape(found.group(1)) if found else None


def summary_of(page: str) -> str:
    found = re.search(r'<p id="summary"><strong>Saved sequence:</strong> (.*?)</p>', page)
    assert found, "the page has no summary"
    return html_lib.unescape(found.group(1))


def planned_steps(db) -> list[tuple]:
    return [(s.position, s.due_at, s.status) for s in db.scalars(select(ReminderStep).order_by(ReminderStep.position))]


@pytest.fixture
def shop_id(runtime):
    return add_shopify_shop(runtime)


@pytest.fixture
def csrf(runtime, client, shop_id):
    add_user(runtime, shop_ids=[shop_id])
    return sign_in(client)


def test_the_page_shows_the_stored_sequence_and_its_summary(client, shop_id, csrf):
    # given a shop with plain reminders at 1 h, 24 h and 72 h
    # when its owner opens the Sequence page
    response = client.get(f"/admin/shops/{shop_id}/sequence")
    page = response.get_data(as_text=True)
    # then the summary says it in one sentence
    assert response.status_code == 200
    assert summary_of(page) == "After 1 h idle: 1 h, then 24 h, then 3 days after the customer left."
    # and each step has its fieldset with the stored delay, humanized underneath
    assert [f"Step {n}" for n in (1, 2, 3)] == re.findall(r"<legend><strong>(Step \d)</strong></legend>", page)
    assert value_of(page, "idle_minutes") == "60"
    assert value_of(page, "step2_delay") == "1440" and "Sent 24 h after the customer left." in page
    assert value_of(page, "step2_prefix") == "CB-"


def test_saving_new_delays_and_discounts_persists_them(runtime, client, shop_id, csrf):
    # given the owner on the Sequence page
    # when they set a 30 min threshold, 15% off in step 2 and free shipping in step 3, and save
    response = client.post(f"/admin/shops/{shop_id}/sequence", data=plain_form(
        csrf, idle_minutes="30", step1_delay="45", step2_discount="percentage", step2_value="15",
        step2_valid_hours="48", step2_minimum="50,00", step2_new_only="1", step2_prefix="back-",
        step3_delay="2880", step3_discount="free_shipping", send_without_discount="1",
        expiry_reminder_hours="12"))
    # then the page goes back to itself with a notice
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/shops/{shop_id}/sequence?notice=saved"
    # and the database holds the new sequence and shop settings
    sequence, without_code, expiry = stored(runtime, shop_id)
    assert sequence.abandon_after_minutes == 30
    assert [s.delay_minutes for s in sequence.steps] == [45, 1440, 2880]
    second, third = sequence.steps[1].discount, sequence.steps[2].discount
    assert (second.kind, second.value, second.valid_hours, second.minimum_subtotal, second.new_customers_only,
            second.code_prefix) == (DiscountKind.PERCENTAGE, Decimal("15"), 48, Decimal("50.00"), True, "BACK-")
    assert third.kind == DiscountKind.FREE_SHIPPING and not sequence.steps[0].discount.active
    assert (without_code, expiry) == (True, 12)
    # and the page now shows the new summary and the saved values
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert summary_of(page) == ("After 30 min idle: 45 min, then 24 h with 15% off, "
                                "then 48 h with free shipping after the customer left.")
    assert "Saved." in page and value_of(page, "step2_value") == "15" and value_of(page, "step2_minimum") == "50"


def test_a_disabled_step_is_saved_off_and_left_out_of_the_summary(runtime, client, shop_id, csrf):
    # given the owner unticks step 3 and saves
    response = client.post(f"/admin/shops/{shop_id}/sequence", data=plain_form(csrf, step3_enabled=None))
    # then step 3 is stored disabled and the summary leaves it out
    assert response.status_code == 303
    assert [s.enabled for s in stored(runtime, shop_id)[0].steps] == [True, True, False]
    page = client.get(f"/admin/shops/{shop_id}/sequence").get_data(as_text=True)
    assert summary_of(page) == "After 1 h idle: 1 h, then 24 h after the customer left."


def test_add_a_step_shows_one_more_empty_step_and_saves_nothing(runtime, client, shop_id, csrf):
    # given the owner has typed a new threshold
    before = stored(runtime, shop_id)
    # when they press "Add a step"
    response = client.post(f"/admin/shops/{shop_id}/sequence",
                           data=plain_form(csrf, idle_minutes="90", action="add"))
    page = response.get_data(as_text=True)
    # then the form has a fourth, empty step, and what was typed is kept
    assert response.status_code == 200
    assert "<legend><strong>Step 4</strong></legend>" in page
    assert value_of(page, "step4_delay") == "" and value_of(page, "step4_prefix") == "CB-"
    assert value_of(page, "idle_minutes") == "90" and 'name="step_count" value="4"' in page
    # and nothing was saved
    assert stored(runtime, shop_id) == before
    # when the fourth step gets a delay and the form is saved, then it has four steps
    saved = client.post(f"/admin/shops/{shop_id}/sequence", data=plain_form(
        csrf, step_count="4", step4_delay="10080", step4_enabled="1", step4_discount="none", step4_valid_hours="72",
        step4_prefix="CB-", step4_channel="email"))
    assert saved.status_code == 303
    assert [s.delay_minutes for s in stored(runtime, shop_id)[0].steps] == [60, 1440, 4320, 10080]


def test_remove_takes_the_step_out_of_the_form_only(runtime, client, shop_id, csrf):
    # given the stored three steps
    before = stored(runtime, shop_id)
    # when the owner presses "Remove step 2"
    response = client.post(f"/admin/shops/{shop_id}/sequence", data=plain_form(csrf, action="remove:2"))
    page = response.get_data(as_text=True)
    # then the form has two steps, the former step 3 now second
    assert response.status_code == 200
    assert re.findall(r"<legend><strong>(Step \d)</strong></legend>", page) == ["Step 1", "Step 2"]
    assert value_of(page, "step2_delay") == "4320" and value_of(page, "step3_delay") is None
    # and nothing was saved until Save
    assert stored(runtime, shop_id) == before
    saved = client.post(f"/admin/shops/{shop_id}/sequence",
                        data=plain_form(csrf, step_count="2", step2_delay="4320"))
    assert saved.status_code == 303
    assert [s.delay_minutes for s in stored(runtime, shop_id)[0].steps] == [60, 4320]


BAD_VALUES = [
    ({"step2_delay": "abc"}, "step2_delay", "abc", "must be a whole number, got 'abc'"),
    ({"step1_delay": "-5"}, "step1_delay", "-5", "must be between 0 and 129600"),
    ({"idle_minutes": ""}, "idle_minutes", "", "is required"),
    ({"step1_discount": "percentage", "step1_value": "10"}, "step1_discount", None,
     "the first reminder carries no discount; offer it in a later step"),
    ({"step2_discount": "percentage", "step2_value": "150"}, "step2_value", "150",
     "a percentage must be more than 0 and at most 100"),
    ({"step2_discount": "fixed_amount", "step2_value": "five"}, "step2_value", "five", "must be a decimal number"),
    ({"step2_discount": "percentage", "step2_value": ""}, "step2_value", "", "is required"),
    ({"step2_discount": "percentage", "step2_value": "10", "step2_valid_hours": "0"}, "step2_valid_hours", "0",
     "must be between 1 and 1440 hours"),
    ({"step2_discount": "percentage", "step2_value": "10", "step2_prefix": "CB X"}, "step2_prefix", "CB X",
     "use at most 12 of A-Z, 0-9 and '-'"),
    ({"step2_discount": "percentage", "step2_value": "10", "step2_minimum": "-1"}, "step2_minimum", "-1",
     "must not be negative"),
    ({"step3_delay": "120"}, "steps", None, "delays must not decrease from one step to the next"),
    ({"expiry_reminder_hours": "0"}, "expiry_reminder_hours", "0", "between 1 and 720, or empty (off)"),
    ({"step2_channel": "sms"}, "step2_channel", None, "only 'email' is supported"),
]


@pytest.mark.parametrize("typed, field, kept, reason", BAD_VALUES, ids=[b[1] + "-" + repr(b[0]) for b in BAD_VALUES])
def test_a_bad_value_is_refused_next_to_its_field_and_nothing_is_saved(runtime, client, shop_id, csrf,
                                                                       typed, field, kept, reason):
    # given the stored sequence
    before = stored(runtime, shop_id)
    # when the owner saves a form with one bad value
    response = client.post(f"/admin/shops/{shop_id}/sequence", data=plain_form(csrf, **typed))
    page = response.get_data(as_text=True)
    # then the page comes back with 422 and the reason next to that field, and only that one
    assert response.status_code == 422
    shown = html_lib.unescape(re.search(r'<div class="errors".*?</div>', page, re.S).group(0))
    assert "Please correct 1 field:" in shown and reason in shown
    if field == "steps":
        assert f"Steps {reason}" in html_lib.unescape(page)
    else:
        assert reason in (error_of(page, field) or "")
    # and what was typed is still in the form
    if kept is not None:
        assert value_of(page, field) == kept
    assert value_of(page, "step3_delay") == typed.get("step3_delay", "4320")
    # and nothing was saved
    assert stored(runtime, shop_id) == before


def test_a_mistyped_first_delay_does_not_blame_later_steps(runtime, client, shop_id, csrf):
    # given step 2 offers a valid 10% code
    form = plain_form(csrf, step1_delay="1h", step2_discount="percentage", step2_value="10")
    # when step 1's delay is mistyped and the form saved
    page = client.post(f"/admin/shops/{shop_id}/sequence", data=form).get_data(as_text=True)
    # then only step 1's delay is blamed (step 2's code is not mistaken for a first-step code)
    assert error_of(page, "step1_delay") == "Delay (minutes) must be a whole number, got '1h'"
    assert error_of(page, "step1_discount") is None and error_of(page, "step2_discount") is None
    assert "Please correct 1 field:" in page


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(runtime, client, shop_id, csrf):
    # given the stored sequence
    before = stored(runtime, shop_id)
    # when a form arrives without the session's CSRF token
    response = client.post(f"/admin/shops/{shop_id}/sequence", data=plain_form("", idle_minutes="5"))
    # then it is refused and nothing changes
    assert response.status_code == 400
    assert stored(runtime, shop_id) == before


def test_another_shops_sequence_is_not_found(runtime, client, shop_id, csrf):
    # given a second shop the signed-in owner has no grant for
    other = add_shopify_shop(runtime, OTHER_DOMAIN)
    before = stored(runtime, other)
    # when they open or post its Sequence page
    opened = client.get(f"/admin/shops/{other}/sequence")
    posted = client.post(f"/admin/shops/{other}/sequence", data=plain_form(csrf, idle_minutes="5"))
    # then both are 404 and its sequence is unchanged
    assert (opened.status_code, posted.status_code) == (404, 404)
    assert stored(runtime, other) == before


def test_a_step_removed_or_turned_off_is_cancelled_for_waiting_carts(runtime, client, clock, shop_id, csrf):
    # given a cart whose three reminders are planned
    body = checkout("tok-plan", clock())
    assert post_shopify(client, "checkouts/create", body, webhook_id="w-plan").status_code == 200
    run(runtime, once=True)
    with runtime.sessions() as db:
        planned = planned_steps(db)
    assert [status for _, _, status in planned] == ["pending"] * 3
    # when the owner turns step 2 off and drops step 3, and saves
    form = plain_form(csrf, step_count="2")
    del form["step2_enabled"]
    response = client.post(f"/admin/shops/{shop_id}/sequence", data=form)
    # then step 1 keeps its time, and steps 2 and 3 will never be sent to this cart
    assert response.status_code == 303
    with runtime.sessions() as db:
        after = planned_steps(db)
        reasons = {s.position: s.reason for s in db.scalars(select(ReminderStep))}
    assert after == [planned[0], (2, planned[1][1], "cancelled"), (3, planned[2][1], "cancelled")]
    assert reasons[2] == reasons[3] == "step turned off in the sequence"
