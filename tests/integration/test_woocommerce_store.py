"""The WooCommerce store client driving the real ``woocommerce`` library against a local REST API.

No database: these tests exercise ``connectors.woocommerce_store`` through the connector, over
real HTTP with OAuth 1.0a signatures checked as WooCommerce core checks them, with the server's
scripted faults (429/5xx, late answers, dropped connections) and key problems.
"""
from __future__ import annotations

import logging
import secrets
import socket
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from woocommerce import API
from woocommerce.oauth import OAuth

from bridge.discounts import DiscountKind, DiscountSpec
from connectors.base import CallOutcome, PlatformHttp, StoreCredentials
from connectors.woocommerce import CONNECTOR
from tests.servers.woocommerce_api import ApiKey, WooCommerceTestServer

SITE_OFFSET = timedelta(hours=3)       # a shop in Kyiv: naive dates would be read 3 hours off
ENDS = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def make_spec(kind: DiscountKind = DiscountKind.PERCENTAGE, value: str = "10", **overrides) -> DiscountSpec:
    fields = dict(code=f"CB-{secrets.token_hex(5).upper()}", kind=kind, value=Decimal(value), currency="UAH",
                  starts_at=ENDS - timedelta(hours=72), ends_at=ENDS, title="Cart recovery",
                  reference="cartbridge cart 12 step 2", minimum_subtotal=None,
                  customer_email="Olena@Example.com", customer_id=None)
    fields.update(overrides)
    return DiscountSpec(**fields)


@pytest.fixture
def server():
    with WooCommerceTestServer(utc_offset=SITE_OFFSET) as srv:
        yield srv


@pytest.fixture
def key(server) -> ApiKey:
    return server.add_key()


def client_for(server, key: ApiKey, timeout: float = 2.0, secret: str | None = None):
    credentials = StoreCredentials(server.url, consumer_key=key.consumer_key,
                                   consumer_secret=secret or key.consumer_secret)
    return CONNECTOR.store_client(credentials, PlatformHttp(shopify=None, timeout=timeout))


@pytest.fixture
def client(server, key):
    return client_for(server, key)


@pytest.fixture
def impatient_client(server, key):
    """Gives up after 0.5 s: a late answer becomes a read timeout."""
    return client_for(server, key, timeout=0.5)


@pytest.fixture
def closed_port_url():
    """A loopback port nobody listens on: connect() is refused at once."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


# --- created coupons arrive with the documented fields -----------------------------------------

def test_a_percentage_coupon_arrives_single_use_for_the_customer_expiring_and_marked_as_ours(server, client):
    # given a 10 % code for olena@example.com with a 50.00 minimum, ending 2026-11-26 10:00 UTC
    spec = make_spec(value="10", minimum_subtotal=Decimal("50"))
    # when it is created
    result = client.create_discount(spec)
    # then WooCommerce holds exactly one coupon with the documented fields, and we have its id
    [coupon] = server.coupons
    assert (result.outcome, result.platform_id, result.calls) == (CallOutcome.DONE, str(coupon["id"]), 1)
    assert (coupon["code"], coupon["discount_type"], coupon["amount"]) == (spec.code.lower(), "percent", "10.00")
    assert (coupon["usage_limit"], coupon["usage_limit_per_user"], coupon["individual_use"]) == (1, 1, True)
    assert coupon["email_restrictions"] == ["olena@example.com"]
    assert (coupon["minimum_amount"], coupon["free_shipping"], coupon["description"]) == ("50.00", False,
                                                                                           "Cart recovery")
    assert coupon["meta_data"][0]["key"] == "_cartbridge"
    assert coupon["meta_data"][0]["value"] == "cartbridge cart 12 step 2"
    # and it expires at the same instant, shown in the site's timezone and in GMT
    assert (coupon["date_expires_gmt"], coupon["date_expires"]) == ("2026-11-26T10:00:00", "2026-11-26T13:00:00")


def test_a_fixed_amount_coupon_without_email_or_minimum_is_an_open_cart_discount(server, client):
    # given a 5.50 off code for a customer whose email is unknown
    spec = make_spec(DiscountKind.FIXED_AMOUNT, "5.5", customer_email=None)
    # when it is created
    assert client.create_discount(spec).outcome == CallOutcome.DONE
    # then it is a fixed_cart coupon with no email restriction and no minimum
    coupon = server.coupon(spec.code)
    assert (coupon["discount_type"], coupon["amount"]) == ("fixed_cart", "5.50")
    assert (coupon["email_restrictions"], coupon["minimum_amount"]) == ([], "0.00")


def test_free_shipping_is_a_zero_amount_cart_coupon_that_grants_free_shipping(server, client):
    # given a free-shipping step
    spec = make_spec(DiscountKind.FREE_SHIPPING, "0")
    # when its code is created
    assert client.create_discount(spec).outcome == CallOutcome.DONE
    # then the coupon takes nothing off the cart but grants free shipping, still single use
    coupon = server.coupon(spec.code)
    assert (coupon["discount_type"], coupon["amount"], coupon["free_shipping"]) == ("fixed_cart", "0.00", True)
    assert coupon["usage_limit"] == 1


def test_woocommerce_ignores_date_expires_gmt_on_write_so_the_client_does_not_rely_on_it(server, key, client):
    # given a coupon posted (by anyone) with only date_expires_gmt, as the docs' field list suggests
    api = API(url=server.url, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret,
              version="wc/v3", timeout=2.0)
    bare = api.post("coupons", {"code": "gmt-only", "amount": "10", "date_expires_gmt": "2026-11-26T10:00:00"})
    # when our client creates its own coupon
    spec = make_spec()
    client.create_discount(spec)
    # then the bare one never expires (core has no setter for it), while ours does
    assert bare.status_code == 201 and bare.json()["date_expires_gmt"] is None
    assert server.coupon(spec.code)["date_expires_gmt"] == "2026-11-26T10:00:00"


# --- duplicates and lookups ---------------------------------------------------------------------

def test_a_code_created_twice_is_exists_and_find_returns_the_same_coupon_whatever_the_case(server, client):
    # given a code that was created already
    spec = make_spec()
    first = client.create_discount(spec)
    # when it is created again, then looked up as we wrote it and lower-cased
    again = client.create_discount(spec)
    found, found_lower = client.find_discount(spec.code), client.find_discount(spec.code.lower())
    # then WooCommerce refused the duplicate and both lookups name the first coupon
    assert (again.outcome, again.error) == (CallOutcome.EXISTS, "The coupon code already exists")
    assert (found.outcome, found.platform_id, found.calls) == (CallOutcome.DONE, first.platform_id, 1)
    assert found_lower.platform_id == first.platform_id
    assert len(server.coupons) == 1 and server.count("create") == 2


def test_looking_up_a_code_nobody_created_is_absent(server, client):
    # given a store with another coupon only
    server.add_coupon("summer10", amount="10")
    # when our code is looked up
    result = client.find_discount("CB-NOTHERE42")
    # then it is absent, after one request
    assert (result.outcome, result.calls) == (CallOutcome.ABSENT, 1)


# --- answers that never came --------------------------------------------------------------------

def test_a_late_answer_to_a_create_is_unknown_and_the_lookup_then_finds_the_one_coupon(server, impatient_client):
    # given a store that saves the coupon but answers after the client gave up
    spec = make_spec()
    server.delay_next(2.0)
    # when the code is created, then looked up
    created = impatient_client.create_discount(spec)
    found = impatient_client.find_discount(spec.code)
    # then the create is unknown, the lookup finds the coupon, and WooCommerce saw exactly one create
    assert (created.outcome, created.calls) == (CallOutcome.UNKNOWN, 1)
    assert (found.outcome, found.platform_id) == (CallOutcome.DONE, str(server.coupon(spec.code)["id"]))
    assert server.count("create") == 1 and len(server.coupons) == 1


def test_a_connection_dropped_after_a_create_is_unknown_and_the_lookup_finds_the_coupon(server, client):
    # given a store that saves the coupon, then closes the connection without answering
    spec = make_spec()
    server.drop_next()
    # when the code is created, then looked up
    created = client.create_discount(spec)
    found = client.find_discount(spec.code)
    # then the create is unknown and the one coupon is found
    assert created.outcome == CallOutcome.UNKNOWN
    assert found.outcome == CallOutcome.DONE and server.count("create") == 1 and len(server.coupons) == 1


@pytest.mark.parametrize("fault", ["delay", "drop"])
def test_a_lookup_or_delete_without_answer_is_simply_retried(server, impatient_client, fault):
    # given a coupon, and a store that answers the next two requests late or not at all
    coupon = server.add_coupon("cb-late", amount="10")
    for _ in range(2):
        server.delay_next(2.0) if fault == "delay" else server.drop_next()
    # when the code is looked up and deleted
    found = impatient_client.find_discount("CB-LATE")
    deleted = impatient_client.delete_discount(str(coupon["id"]))
    # then both are plain retries (a repeated lookup or delete does no harm)
    assert (found.outcome, deleted.outcome) == (CallOutcome.RETRY, CallOutcome.RETRY)


def test_a_refused_connection_is_retry_and_says_so_without_the_key(key, closed_port_url):
    # given a store URL where nothing listens
    credentials = StoreCredentials(closed_port_url, consumer_key=key.consumer_key,
                                   consumer_secret=key.consumer_secret)
    client = CONNECTOR.store_client(credentials, PlatformHttp(shopify=None, timeout=2.0))
    # when a code is created
    result = client.create_discount(make_spec())
    # then it certainly was not created: retry, with an error that names neither key nor URL
    assert (result.outcome, result.error) == (CallOutcome.RETRY, "could not connect to the store")


# --- throttling and server errors ---------------------------------------------------------------

def test_a_429_is_retry_with_the_stores_retry_after_and_nothing_is_created(server, client):
    # given a host that throttles the next request for 7 seconds
    server.fail_next(429, retry_after=7)
    # when a code is created
    result = client.create_discount(make_spec())
    # then the core is told to retry after 7 s, and nothing was stored
    assert (result.outcome, result.retry_after, result.calls) == (CallOutcome.RETRY, 7.0, 1)
    assert server.coupons == []


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_makes_a_create_unknown_but_a_lookup_or_delete_a_retry(server, client, status):
    # given a store that fails the next three requests
    for _ in range(3):
        server.fail_next(status)
    # when a code is created, looked up and deleted
    created, found, deleted = (client.create_discount(make_spec()), client.find_discount("CB-X"),
                               client.delete_discount("700"))
    # then only the create may have happened (WooCommerce can fail after saving)
    assert (created.outcome, found.outcome, deleted.outcome) == (CallOutcome.UNKNOWN, CallOutcome.RETRY,
                                                                  CallOutcome.RETRY)
    assert f"HTTP {status}" in created.error


# --- keys that cannot write, and forged or replayed requests -----------------------------------

def test_a_read_only_key_is_refused_with_woocommerces_message_and_nothing_is_stored(server):
    # given a key created with Read permission only
    client = client_for(server, server.add_key(permissions="read"))
    # when a code is created
    result = client.create_discount(make_spec())
    # then the merchant is told the key lacks write permission, in WooCommerce's words too
    assert result.outcome == CallOutcome.REFUSED
    assert "lacks write permission" in result.error
    assert "The API key provided does not have write permissions." in result.error
    assert server.coupons == [] and server.seen[-1].status == 401
    # and looking codes up still works with it
    assert client.find_discount("CB-ANY").outcome == CallOutcome.ABSENT


def test_a_key_whose_user_may_not_manage_coupons_is_refused(server):
    # given a read/write key that belongs to a user without the manage_woocommerce capability
    client = client_for(server, server.add_key(can_manage=False))
    # when a code is created
    result = client.create_discount(make_spec())
    # then WooCommerce's own refusal reaches the merchant
    assert result.outcome == CallOutcome.REFUSED
    assert "lacks write permission" in result.error and "woocommerce_rest_cannot_create" in result.error
    assert server.seen[-1].status == 403 and server.coupons == []


def test_a_forged_signature_is_401_and_nothing_is_stored(server, key, caplog):
    # given a client that knows the consumer key but signs with a wrong secret
    client = client_for(server, key, secret="cs_" + "0" * 40)
    caplog.set_level(logging.DEBUG, logger="connectors")
    # when it tries to create a code
    result = client.create_discount(make_spec())
    # then WooCommerce refuses the signature and stores nothing
    assert result.outcome == CallOutcome.REFUSED
    assert "Invalid signature - provided signature does not match." in result.error
    assert server.seen[-1].status == 401 and server.coupons == []
    # and neither the error nor our log line (message and fields) carries the key or the secret
    [record] = [r for r in caplog.records if r.name == "connectors.woocommerce_store"]
    assert (record.code, record.status_code, record.reason) == ("woocommerce_refused", 401,
                                                                 "woocommerce_rest_authentication_error")
    for text in (result.error, str(vars(record))):
        assert key.consumer_key not in text and key.consumer_secret not in text


def test_an_unknown_consumer_key_is_refused(server):
    # given a key the store never issued (revoked, or from another store)
    stranger = ApiKey("ck_" + "1" * 40, "cs_" + "2" * 40)
    # when a code is created with it
    result = client_for(server, stranger).create_discount(make_spec())
    # then the merchant is asked to reconnect
    assert result.outcome == CallOutcome.REFUSED
    assert "reconnect the store" in result.error and "Consumer key is invalid." in result.error


def test_a_clock_far_from_the_stores_is_refused_with_advice_to_check_it():
    # given a store whose clock runs an hour ahead of ours (WooCommerce allows 15 minutes)
    with WooCommerceTestServer(clock=lambda: time.time() + 3600) as ahead:
        stale_key = ahead.add_key()
        # when a code is created
        result = client_for(ahead, stale_key).create_discount(make_spec())
        # then the merchant is pointed at the clock, not told to reconnect
        assert result.outcome == CallOutcome.REFUSED and ahead.coupons == []
        assert result.error.startswith("WooCommerce rejected the request time (check this server's clock)")
        assert "Invalid timestamp." in result.error


def _signed(server, key: ApiKey, method: str, **oauth) -> str:
    return OAuth(url=f"{server.url}/wp-json/wc/v3/coupons", consumer_key=key.consumer_key,
                 consumer_secret=key.consumer_secret, version="wc/v3", method=method, **oauth).get_oauth_url()


def test_a_replayed_request_is_refused_even_with_another_body(server, key):
    # given a signed create that went through
    url = _signed(server, key, "POST")
    first = requests.post(url, json={"code": "cb-first", "amount": "10"}, timeout=2)
    # when an eavesdropper sends the same signed URL again with a body of their own
    replay = requests.post(url, json={"code": "cb-mine", "amount": "100", "discount_type": "percent"}, timeout=2)
    # then the nonce is refused and only the first coupon exists
    assert first.status_code == 201
    assert replay.status_code == 401
    assert replay.json() == {"code": "woocommerce_rest_authentication_error",
                             "message": "Invalid nonce - nonce has already been used.", "data": {"status": 401}}
    assert [coupon["code"] for coupon in server.coupons] == ["cb-first"]


def test_a_request_signed_more_than_15_minutes_ago_is_refused(server, key):
    # given a correctly signed lookup whose timestamp is 16 minutes old
    url = _signed(server, key, "GET", oauth_timestamp=int(time.time()) - 16 * 60)
    # when it is sent
    answer = requests.get(url, timeout=2)
    # then WooCommerce refuses the timestamp
    assert (answer.status_code, answer.json()["message"]) == (401, "Invalid timestamp.")


# --- deleting -----------------------------------------------------------------------------------

def test_delete_removes_the_coupon_for_good_and_a_second_delete_is_absent(server, client):
    # given a created code
    created = client.create_discount(make_spec())
    # when it is deleted twice
    first, second = client.delete_discount(created.platform_id), client.delete_discount(created.platform_id)
    # then it is gone (not in the trash) and the second delete finds nothing to do
    assert (first.outcome, first.platform_id) == (CallOutcome.DONE, created.platform_id)
    assert (second.outcome, second.calls) == (CallOutcome.ABSENT, 1)
    assert server.coupons == [] and server.count("delete") == 2


def test_no_request_is_made_without_a_stored_key(server):
    # given a shop whose REST key is missing
    client = CONNECTOR.store_client(StoreCredentials(server.url), PlatformHttp(shopify=None))
    # when a code is created
    result = client.create_discount(make_spec())
    # then it is refused at once, without calling the store
    assert (result.outcome, result.calls) == (CallOutcome.REFUSED, 0)
    assert server.seen == []
