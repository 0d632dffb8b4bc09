"""The Shopify store client driving the real ``shopifyapp`` library against a local Admin API server.

No database: these tests exercise ``connectors.shopify_store`` through the connector, over real
HTTP, with the server's scripted faults (throttling, 429/5xx, late answers, expired tokens).
"""
from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bridge.discounts import DiscountKind, DiscountSpec
from connectors.base import CallOutcome, PlatformHttp, StoreCredentials, TokenSet
from connectors.shopify import CONNECTOR
from tests.servers.shopify_admin import ShopifyAdminServer

APP_KEY, APP_SECRET = "cartbridge-test-app", "shpss_store_client_test_secret"
STARTS = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def make_spec(kind: DiscountKind = DiscountKind.PERCENTAGE, value: str = "10", **overrides) -> DiscountSpec:
    fields = dict(code=f"CB-{secrets.token_hex(5).upper()}", kind=kind, value=Decimal(value), currency="USD",
                  starts_at=STARTS, ends_at=STARTS + timedelta(hours=72), title="Cart recovery",
                  reference="cartbridge cart 12 step 2", minimum_subtotal=None, customer_email="olena@example.com",
                  customer_id=None)
    fields.update(overrides)
    return DiscountSpec(**fields)


@pytest.fixture
def server():
    with ShopifyAdminServer(app_key=APP_KEY, app_secret=APP_SECRET) as srv:
        yield srv


def add_shop(server: ShopifyAdminServer, **bucket):
    # A fresh name per test: the client's bucket estimate is process-wide, keyed by domain.
    return server.add_shop(f"shop-{secrets.token_hex(4)}", **bucket)


@pytest.fixture
def shop(server):
    return add_shop(server)


@pytest.fixture
def http(server):
    with server.http_client(timeout=2.0) as client:
        yield PlatformHttp(shopify=client)


@pytest.fixture
def impatient_http(server):
    """A client that gives up after 0.5 s: a late answer becomes a read timeout."""
    with server.http_client(timeout=0.5) as client:
        yield PlatformHttp(shopify=client)


def client_for(grant, http, token: str | None = None):
    return CONNECTOR.store_client(StoreCredentials(grant.domain, token or grant.access_token), http)


def tokens_of(grant) -> TokenSet:
    return TokenSet(grant.access_token, STARTS, grant.refresh_token, datetime.now(UTC) + timedelta(days=80))


# --- created codes arrive with the documented input --------------------------------------------

def test_a_percentage_code_arrives_restricted_to_the_customer_single_use_and_dated(server, shop, http):
    # given a 10 % code for customer 6038 with a 50.00 minimum, valid 72 hours
    spec = make_spec(value="10", minimum_subtotal=Decimal("50"), customer_id="603851970716743426")
    # when it is created
    result = client_for(shop, http).create_discount(spec)
    # then Shopify has exactly the documented DiscountCodeBasicInput, and we have its id
    [stored] = server.discounts(shop.domain)
    assert (result.outcome, result.platform_id, result.calls) == (CallOutcome.DONE, stored.id, 1)
    assert stored.typename == "DiscountCodeBasic" and stored.api_version == http.api_version
    assert stored.input == {
        "title": "Cart recovery", "code": spec.code,
        "startsAt": "2026-11-23T10:00:00Z", "endsAt": "2026-11-26T10:00:00Z",
        "usageLimit": 1, "appliesOncePerCustomer": True,
        "context": {"customers": {"add": ["gid://shopify/Customer/603851970716743426"]}},
        "minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "50.00"}},
        "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}},
        "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": True},
    }


def test_a_fixed_amount_code_takes_the_amount_off_the_order_once_for_any_buyer(server, shop, http):
    # given a 5.00 code without a known customer id and without a minimum
    spec = make_spec(DiscountKind.FIXED_AMOUNT, value="5")
    # when it is created
    result = client_for(shop, http).create_discount(spec)
    # then the amount is off the order (not each item), open to all buyers, still single-use
    [stored] = server.discounts(shop.domain)
    assert result.outcome == CallOutcome.DONE
    assert stored.input["customerGets"] == {"value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
                                            "items": {"all": True}}
    assert stored.input["context"] == {"all": "ALL"}
    assert stored.input["usageLimit"] == 1 and stored.input["appliesOncePerCustomer"] is True
    assert "minimumRequirement" not in stored.input


def test_a_free_shipping_code_covers_every_destination_and_stacks_with_nothing(server, shop, http):
    # given a free-shipping code for a known customer
    spec = make_spec(DiscountKind.FREE_SHIPPING, value="0", customer_id="gid://shopify/Customer/42",
                     minimum_subtotal=Decimal("30.5"))
    # when it is created
    result = client_for(shop, http).create_discount(spec)
    # then it went through the free-shipping mutation with the documented input
    [stored] = server.discounts(shop.domain)
    assert result.outcome == CallOutcome.DONE and stored.typename == "DiscountCodeFreeShipping"
    assert (server.count("discountCodeFreeShippingCreate"), server.count("discountCodeBasicCreate")) == (1, 0)
    assert stored.input["destination"] == {"all": True}
    assert stored.input["combinesWith"] == {"orderDiscounts": False, "productDiscounts": False,
                                            "shippingDiscounts": False}
    assert stored.input["context"] == {"customers": {"add": ["gid://shopify/Customer/42"]}}
    assert stored.input["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "30.50"}}
    assert "customerGets" not in stored.input


def test_a_code_shopify_rejects_as_invalid_is_refused_with_shopifys_words(server, shop, http):
    # given a code whose end is before its start
    spec = make_spec(ends_at=STARTS - timedelta(hours=1))
    # when it is created
    result = client_for(shop, http).create_discount(spec)
    # then it is refused with Shopify's userError, and nothing was created
    assert result.outcome == CallOutcome.REFUSED
    assert result.error == "basicCodeDiscount.endsAt: Ends at needs to be after starts_at"
    assert server.discounts(shop.domain) == []


# --- idempotency: TAKEN, late answers ---------------------------------------------------------

def test_a_duplicate_code_is_reported_as_existing_and_the_lookup_finds_the_first_one(server, shop, http):
    # given a code that was created already
    client, spec = client_for(shop, http), make_spec()
    first = client.create_discount(spec)
    # when the same code is created again
    again = client.create_discount(spec)
    # then Shopify says TAKEN, the lookup finds the same discount, and there is still only one
    assert again.outcome == CallOutcome.EXISTS and "unique" in again.error
    found = client.find_discount(spec.code)
    assert (found.outcome, found.platform_id) == (CallOutcome.DONE, first.platform_id)
    assert len(server.discounts(shop.domain)) == 1


def test_a_create_answered_too_late_is_unknown_then_found_and_sent_only_once(server, shop, impatient_http):
    # given Shopify creates the code but answers after the client has given up
    server.delay_next(1.5)
    client, spec = client_for(shop, impatient_http), make_spec()
    # when the code is created
    result = client.create_discount(spec)
    # then the outcome is UNKNOWN (never re-sent blindly), and the lookup finds the code
    assert (result.outcome, result.calls) == (CallOutcome.UNKNOWN, 1)
    found = client.find_discount(spec.code)
    assert (found.outcome, found.platform_id) == (CallOutcome.DONE, server.discounts(shop.domain)[0].id)
    assert server.count("discountCodeBasicCreate") == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_on_create_is_unknown_and_not_repeated(server, shop, http, status):
    # given Shopify answers the create with a server error (and asks for 7 s of patience)
    server.fail_next(status, retry_after=7)
    # when the code is created
    result = client_for(shop, http).create_discount(make_spec())
    # then the caller must look it up before creating again: the client did not re-send it
    assert (result.outcome, result.calls, result.retry_after) == (CallOutcome.UNKNOWN, 1, 7.0)
    assert server.count("discountCodeBasicCreate") == 1


def test_server_errors_and_late_answers_on_lookup_and_delete_are_retry(server, shop, http, impatient_http):
    # given a lookup that gets a 503, a lookup answered too late, and a delete that gets a 502
    server.fail_next(503)
    looked_up = client_for(shop, http).find_discount("CB-ANY")
    server.delay_next(1.5)
    timed_out = client_for(shop, impatient_http).find_discount("CB-ANY")
    server.fail_next(502)
    deleted = client_for(shop, http).delete_discount("gid://shopify/DiscountCodeNode/1")
    # then each is RETRY: repeating them can do no harm
    assert [r.outcome for r in (looked_up, timed_out, deleted)] == [CallOutcome.RETRY] * 3


# --- throttling: waited out inside the call, never executed twice ------------------------------

def test_a_throttled_create_on_200_is_waited_out_and_created_once(server, http):
    # given a shop whose bucket (restoring 100 points/s) is found empty once
    shop = add_shop(server, maximum_available=1000, restore_rate=100)
    server.throttle_next()
    # when a code (10 points) is created
    started = time.monotonic()
    result = client_for(shop, http).create_discount(make_spec())
    # then the client waited the ~0.1 s Shopify's throttleStatus implies, and Shopify created it once
    assert (result.outcome, result.calls) == (CallOutcome.DONE, 2)
    assert time.monotonic() - started >= 0.09
    assert (server.throttled, server.count("discountCodeBasicCreate")) == (1, 2)
    assert len(server.discounts(shop.domain)) == 1


def test_a_429_is_waited_out_for_retry_after_and_then_created_once(server, shop, http):
    # given Shopify answers 429 with Retry-After: 0.2
    server.fail_next(429, retry_after=0.2)
    # when a code is created
    started = time.monotonic()
    result = client_for(shop, http).create_discount(make_spec())
    # then the client waited as told, re-sent once, and Shopify has the code once
    assert (result.outcome, result.calls) == (CallOutcome.DONE, 2)
    assert time.monotonic() - started >= 0.2
    assert len(server.discounts(shop.domain)) == 1


def test_throttling_that_outlasts_three_tries_is_handed_back_as_retry(server, shop, http):
    # given the bucket is found empty on three requests in a row
    server.throttle_next(3)
    # when a code is created
    result = client_for(shop, http).create_discount(make_spec())
    # then the client stopped after three tries and says when to come back; nothing was created
    assert (result.outcome, result.calls) == (CallOutcome.RETRY, 3)
    assert result.retry_after is not None and result.retry_after > 0
    assert server.discounts(shop.domain) == []


def test_a_long_retry_after_is_handed_back_instead_of_slept_through(server, shop, http):
    # given Shopify asks for 30 seconds of patience
    server.fail_next(429, retry_after=30)
    # when a code is created
    started = time.monotonic()
    result = client_for(shop, http).create_discount(make_spec())
    # then the worker is not held up: RETRY with Shopify's 30 s
    assert (result.outcome, result.retry_after, result.calls) == (CallOutcome.RETRY, 30.0, 1)
    assert time.monotonic() - started < 5


def test_the_bucket_estimate_makes_the_client_wait_instead_of_being_throttled(server, http):
    # given a shop whose bucket holds only two mutations (20 points, restoring 50/s)
    shop = add_shop(server, maximum_available=20, restore_rate=50)
    client = client_for(shop, http)
    # when four codes are created back to back
    results = [client.create_discount(make_spec()) for _ in range(4)]
    # then each went through on its first request: the client paced itself from extensions.cost
    assert [(r.outcome, r.calls) for r in results] == [(CallOutcome.DONE, 1)] * 4
    assert server.throttled == 0 and server.count("discountCodeBasicCreate") == 4


# --- refusals and authentication ---------------------------------------------------------------

def test_a_missing_write_discounts_scope_is_refused_with_shopifys_message(server, shop, http):
    # given the merchant's grant no longer includes write_discounts
    server.revoke_scope(shop.domain, "write_discounts")
    # when a code is created
    result = client_for(shop, http).create_discount(make_spec())
    # then it is REFUSED with Shopify's ACCESS_DENIED message
    assert result.outcome == CallOutcome.REFUSED
    assert result.error == ("Access denied for discountCodeBasicCreate field. "
                            "Required access: `write_discounts` access scope.")
    assert server.discounts(shop.domain) == []


def test_an_http_403_is_refused_with_shopifys_message(server, shop, http):
    # given Shopify answers 403
    server.fail_next(403, message="[API] This action requires merchant approval for write_discounts scope.")
    # when a code is created
    result = client_for(shop, http).create_discount(make_spec())
    # then it is REFUSED, in Shopify's words
    assert (result.outcome, result.calls) == (CallOutcome.REFUSED, 1)
    assert result.error == "[API] This action requires merchant approval for write_discounts scope."


def test_an_expired_token_is_auth_and_a_refresh_gives_a_working_token_and_spends_the_old_one(server, shop, http):
    # given the shop's access token has expired
    server.expire_token(shop.domain)
    spec = make_spec()
    rejected = client_for(shop, http).create_discount(spec)
    assert rejected.outcome == CallOutcome.AUTH and shop.access_token not in (rejected.error or "")
    # when the refresh token is exchanged
    fresh = CONNECTOR.refresh_token(shop.domain, tokens_of(shop), APP_KEY, APP_SECRET, http)
    # then a new token set comes back (aware UTC times, a new refresh token) and the new token works
    assert isinstance(fresh, TokenSet) and fresh.access_token != shop.access_token
    assert fresh.refresh_token not in (None, shop.refresh_token)
    assert fresh.expires_at.tzinfo is not None
    assert timedelta(minutes=59) < fresh.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    assert fresh.refresh_token_expires_at - datetime.now(UTC) > timedelta(days=89)
    created = client_for(shop, http, fresh.access_token).create_discount(spec)
    assert created.outcome == CallOutcome.DONE
    # and the old refresh token is rejected from then on
    again = CONNECTOR.refresh_token(shop.domain, tokens_of(shop), APP_KEY, APP_SECRET, http)
    assert isinstance(again, str) and again.startswith("invalid_grant")


def test_an_old_refresh_token_still_works_until_its_replacement_is_used(server, shop, http):
    # given a refresh whose answer was lost (the new tokens never reached the database)
    lost = CONNECTOR.refresh_token(shop.domain, tokens_of(shop), APP_KEY, APP_SECRET, http)
    # when the stored (old) refresh token is used again
    recovered = CONNECTOR.refresh_token(shop.domain, tokens_of(shop), APP_KEY, APP_SECRET, http)
    # then Shopify issues tokens again, and only the latest access token works
    assert isinstance(lost, TokenSet) and isinstance(recovered, TokenSet)
    assert client_for(shop, http, recovered.access_token).find_discount("CB-X").outcome == CallOutcome.ABSENT
    assert client_for(shop, http, lost.access_token).find_discount("CB-X").outcome == CallOutcome.AUTH


def test_a_refresh_token_past_its_expiry_is_refused_without_asking_shopify(server, shop, http):
    # given the stored refresh token expired yesterday
    tokens = TokenSet(shop.access_token, STARTS, shop.refresh_token, datetime.now(UTC) - timedelta(days=1))
    # when a refresh is attempted
    outcome = CONNECTOR.refresh_token(shop.domain, tokens, APP_KEY, APP_SECRET, http)
    # then the merchant must reinstall: a message, and no request was made
    assert isinstance(outcome, str) and outcome.startswith("refresh_token_expired")
    assert server.count("oauth/access_token") == 0


def test_a_refresh_with_the_wrong_app_secret_is_refused(server, shop, http):
    # given the app's client secret does not match
    outcome = CONNECTOR.refresh_token(shop.domain, tokens_of(shop), APP_KEY, "shpss_wrong", http)
    # then the refresh fails with Shopify's invalid_client, and the shop's token is untouched
    assert isinstance(outcome, str) and outcome.startswith("invalid_client")
    assert server.grant(shop.domain).access_token == shop.access_token


def test_a_token_of_one_shop_does_not_open_another_and_codes_are_unique_per_shop(server, shop, http):
    # given two shops and the same code
    other, spec = add_shop(server), make_spec()
    # when the code is created in both, and shop A's token is tried on shop B
    in_a = client_for(shop, http).create_discount(spec)
    in_b = client_for(other, http).create_discount(spec)
    crossed = client_for(other, http, shop.access_token).find_discount(spec.code)
    # then each shop has its own code, and the foreign token is rejected
    assert (in_a.outcome, in_b.outcome, crossed.outcome) == (CallOutcome.DONE, CallOutcome.DONE, CallOutcome.AUTH)
    assert in_a.platform_id != in_b.platform_id


def test_a_domain_that_is_not_myshopify_is_refused_without_a_request(server, http):
    # given credentials for a storefront domain instead of the myshopify one
    client = CONNECTOR.store_client(StoreCredentials("shop.example.com", "shpat_x"), http)
    # when a code is looked up
    result = client.find_discount("CB-X")
    # then nothing is sent
    assert (result.outcome, result.calls) == (CallOutcome.REFUSED, 0)


# --- lookup and delete -------------------------------------------------------------------------

def test_delete_removes_the_code_and_a_second_delete_finds_it_already_gone(server, shop, http):
    # given a created code
    client, spec = client_for(shop, http), make_spec()
    created = client.create_discount(spec)
    # when it is deleted twice
    first, second = client.delete_discount(created.platform_id), client.delete_discount(created.platform_id)
    # then the first delete did it, the second says it is absent, and the lookup agrees
    assert (first.outcome, first.platform_id) == (CallOutcome.DONE, created.platform_id)
    assert second.outcome == CallOutcome.ABSENT
    assert client.find_discount(spec.code).outcome == CallOutcome.ABSENT
    assert server.discounts(shop.domain) == []


# --- the local server itself answers like Shopify ----------------------------------------------

def test_the_server_rejects_a_query_outside_the_documented_schema_with_200_and_errors(server, shop):
    # given a mutation with an input field Shopify does not have
    query = 'mutation { discountCodeBasicCreate(basicCodeDiscount: {code: "X", bogus: 1}) { userErrors { message } } }'
    with server.http_client() as client:
        # when it is posted the way shopifyapp posts it
        answer = client.post(f"https://{shop.domain}/admin/api/2026-10/graphql.json", json={"query": query},
                             headers={"X-Shopify-Access-Token": shop.access_token})
    # then Shopify's shape comes back: 200, errors, no data, and nothing was executed
    assert answer.status_code == 200
    assert "bogus" in answer.json()["errors"][0]["message"] and "data" not in answer.json()
    assert server.discounts(shop.domain) == []
