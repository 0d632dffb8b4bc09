"""Discount codes end to end on each database, against a local Shopify Admin GraphQL API.

Signed webhooks in, the real worker, the real ``shopifyapp`` library over real HTTP to
``tests/servers/shopify_admin.py``; reminders land in the dev outbox.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.db.engine import unit_of_work
from bridge.services.claims import claim_due_steps
from bridge.services.discount_codes import plan_codes
from bridge.services.shop_status import release_held, shop_status
from bridge.services.shops import find_shop
from bridge.worker import run
from connectors.base import TokenSet
from connectors.shopify_store import ShopifyStore
from tests.conftest import SHOPIFY_SECRET
from tests.servers.shopify_admin import ShopifyAdminServer
from tests.support.discounts import (add_shop_with_codes, cart_state, connect, discounts, outbox, set_shop,
                                     shop_row, steps)
from tests.support.shops import SHOP_DOMAIN, checkout, order, post_shopify

CREATE = "discountCodeBasicCreate"


@pytest.fixture
def api(runtime):
    with ShopifyAdminServer(app_key="test-app", app_secret=SHOPIFY_SECRET) as server:
        grant = server.add_shop(SHOP_DOMAIN.split(".")[0])
        http = server.http_client(timeout=0.5)
        connect(runtime, http)
        server.grant_at_start = grant
        yield server
        http.close()


def _shop(runtime, api, **options) -> int:
    return add_shop_with_codes(runtime, platform="shopify", domain=SHOP_DOMAIN,
                               access_token=api.grant_at_start.access_token, **options)


def _abandon_and_reach_step_two(runtime, client, clock) -> None:
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w-checkout")
    clock.advance(minutes=61)
    run(runtime, once=True)                                   # step 1
    clock.advance(hours=23)
    run(runtime, once=True)                                   # step 2 is due now


def test_step_two_carries_a_unique_code_created_once_and_applied_by_the_link(runtime, client, clock, api):
    # given a shop whose step 2 offers 10% for 72 h
    _shop(runtime, api)
    # when the customer leaves and steps 1 and 2 fall due (and the worker runs once more)
    _abandon_and_reach_step_two(runtime, client, clock)
    run(runtime, once=True)
    # then step 1 had no code, step 2 has the code created once on Shopify
    first, second = outbox(runtime)
    [code] = discounts(runtime)
    assert code.code not in first.html and "CB-" not in first.text
    assert code.status == "active" and code.code in second.text and code.code in second.subject + second.html
    [stored] = api.discounts(SHOP_DOMAIN)
    assert stored.code == code.code and stored.id == code.platform_id
    assert stored.input["usageLimit"] == 1 and stored.input["appliesOncePerCustomer"] is True
    assert stored.input["customerGets"]["value"]["percentage"] == pytest.approx(0.1)
    assert stored.input["context"] == {"customers": {"add": ["gid://shopify/Customer/7001"]}}
    assert api.count(CREATE) == 1
    # and the button applies it: Shopify's discount path around the checkout recovery link
    assert (f'href="https://{SHOP_DOMAIN}/discount/{code.code}?redirect=%2Fcheckouts%2Ftok-1%2Frecover%3Fkey%3Dk"'
            in second.html)


def test_a_create_that_times_out_is_looked_up_and_not_created_again(runtime, client, clock, api):
    # given Shopify creates the code but answers after the client gave up
    _shop(runtime, api)
    api.delay_next(1.5)
    _abandon_and_reach_step_two(runtime, client, clock)
    # then the step waits, marked to look the code up first
    assert len(outbox(runtime)) == 1 and steps(runtime)[2].status == "pending"
    assert discounts(runtime)[0].lookup_first is True
    # when the worker tries again later
    clock.advance(hours=1)
    run(runtime, once=True)
    # then the code Shopify already had was found and sent; it was created exactly once
    assert len(outbox(runtime)) == 2 and discounts(runtime)[0].status == "active"
    assert api.count(CREATE) == 1 and api.count("codeDiscountNodeByCode") == 1
    assert len(api.discounts(SHOP_DOMAIN)) == 1


def test_a_worker_killed_mid_call_leaves_a_code_that_is_found_not_duplicated(runtime, client, clock, api):
    # given step 2 claimed and its code's intent committed, then the worker dies just after
    # its create call reached Shopify
    _shop(runtime, api)
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w-checkout")
    clock.advance(minutes=61)
    run(runtime, once=True)
    clock.advance(hours=23)
    access = runtime.store_access()
    with unit_of_work(runtime.sessions) as session:
        ids = claim_due_steps(session, clock(), limit=10, token="dead-worker", claim_seconds=300, keys=runtime.contacts(),
                              transactional_channel=True)
        [job] = plan_codes(session, ids, "dead-worker", runtime.code_secret(), access, clock())
    ShopifyStore(job.keys.credentials, runtime.platform_http).create_discount(job.spec)
    # when its claim expires and another worker takes the step
    clock.advance(minutes=6)
    run(runtime, once=True)
    # then the code was looked up and adopted, never created twice, and the reminder went out once
    assert api.count(CREATE) == 1 and len(api.discounts(SHOP_DOMAIN)) == 1
    assert [d.status for d in discounts(runtime)] == ["active"]
    assert len(outbox(runtime)) == 2 and job.spec.code in outbox(runtime)[1].text


def test_a_refused_code_holds_the_step_with_shopifys_message_until_released(runtime, client, clock, api):
    # given a shop that did not grant write_discounts
    shop_id = _shop(runtime, api)
    api.revoke_scope(SHOP_DOMAIN, "write_discounts")
    # when step 2 falls due
    _abandon_and_reach_step_two(runtime, client, clock)
    # then it is held, and the shop's status names the missing scope
    assert steps(runtime)[2].status == "held" and len(outbox(runtime)) == 1
    with unit_of_work(runtime.sessions) as session:
        status = shop_status(session, find_shop(session, str(shop_id)))
    assert status["held_steps"] == 1 and "write_discounts" in status["discount_error"]
    # when the merchant chooses "send without a discount instead" and releases the held steps
    set_shop(runtime, shop_id, send_without_discount=True)
    with unit_of_work(runtime.sessions) as session:
        assert release_held(session, find_shop(session, str(shop_id)), clock()) == 1
    run(runtime, once=True)
    # then the reminder goes out without a code
    assert len(outbox(runtime)) == 2 and "CB-" not in outbox(runtime)[1].text
    assert discounts(runtime)[0].status == "dropped"


def test_an_order_using_the_code_redeems_it_and_stops_the_expiry_reminder(runtime, client, clock, api):
    # given step 2 sent with a code and an expiry reminder planned 24 h before it expires
    _shop(runtime, api, expiry_reminder_hours=24)
    _abandon_and_reach_step_two(runtime, client, clock)
    [code] = discounts(runtime)
    assert steps(runtime)[102].status == "pending"
    assert steps(runtime)[102].due_at == code.expires_at - timedelta(hours=24)
    # when the customer orders through a new checkout, another email, with the code (lower case)
    placed = clock.advance(hours=2)
    paid = {**order(9001, placed, email="someone-else@example.com"), "customer": {"id": 8002},
            "discount_codes": [{"code": code.code.lower(), "amount": "9.80", "type": "percentage"}]}
    post_shopify(client, "orders/create", paid, webhook_id="w-order")
    clock.advance(days=3)
    run(runtime, once=True)
    # then the code is redeemed by that order, the cart counts as recovered, nothing more is sent
    [code] = discounts(runtime)
    assert (code.status, code.order_id) == ("redeemed", "9001")
    assert cart_state(runtime) == "recovered" and steps(runtime)[102].status == "cancelled"
    assert len(outbox(runtime)) == 2


def test_the_expiry_reminder_goes_while_the_code_is_unused(runtime, client, clock, api):
    # given step 2 sent with a code, expiry reminder 24 h before
    _shop(runtime, api, expiry_reminder_hours=24)
    _abandon_and_reach_step_two(runtime, client, clock)
    [code] = discounts(runtime)
    # when that moment comes (after step 3 at 72 h) with the code still unused
    clock.current = code.expires_at - timedelta(hours=24) + timedelta(minutes=1)
    run(runtime, once=True)
    # then the "expires soon" reminder names the code and its expiry
    last = outbox(runtime)[-1]
    assert code.code in last.text and "expires" in last.subject.lower()
    assert steps(runtime)[102].status == "sent"


def test_expired_unused_codes_are_deleted_from_shopify(runtime, client, clock, api):
    # given a code sent and never used
    _shop(runtime, api)
    _abandon_and_reach_step_two(runtime, client, clock)
    [code] = discounts(runtime)
    assert len(api.discounts(SHOP_DOMAIN)) == 1
    # when it has been expired for over an hour
    clock.current = code.expires_at + timedelta(hours=1, minutes=1)
    run(runtime, once=True)
    # then it is gone from the shop and marked expired here
    assert api.discounts(SHOP_DOMAIN) == [] and discounts(runtime)[0].status == "expired"
    assert api.count("discountCodeDelete") == 1


def test_an_expired_offline_token_is_refreshed_once_and_the_code_created(runtime, client, clock, api):
    # given an expiring offline token that Shopify already considers expired
    grant = api.grant_at_start
    tokens = TokenSet(grant.access_token, clock() + timedelta(days=2), grant.refresh_token,
                      clock() + timedelta(days=90))
    shop_id = _shop(runtime, api, tokens=tokens)
    api.expire_token(SHOP_DOMAIN)
    # when step 2 needs its code
    _abandon_and_reach_step_two(runtime, client, clock)
    # then the token was refreshed once, the code created, and the new tokens stored encrypted
    assert api.count("oauth/access_token") == 1 and api.count(CREATE) == 2
    assert discounts(runtime)[0].status == "active" and len(outbox(runtime)) == 2
    shop = shop_row(runtime, shop_id)
    assert runtime.box.open(shop.access_token_enc) == api.grant(SHOP_DOMAIN).access_token != grant.access_token
    assert grant.access_token.encode() not in shop.access_token_enc
    assert shop.access_token_expires_at > datetime(2026, 1, 1, tzinfo=UTC)
