"""``find_open_order`` on both platforms: the real ``shopifyapp`` and ``woocommerce`` libraries against
the local Admin GraphQL and REST servers, over real HTTP. No database.

The sending rule it serves: a contact with another order still unpaid or not yet delivered is
not reminded. DONE names that order; ABSENT means there is none; a read that got no answer is
RETRY (repeating it is harmless), never UNKNOWN.
"""
from __future__ import annotations

import logging
import secrets

import pytest

from connectors.base import CallOutcome, PlatformHttp, StoreCredentials
from connectors.shopify import CONNECTOR as SHOPIFY
from connectors.woocommerce import CONNECTOR as WOOCOMMERCE
from tests.servers.shopify_admin import ShopifyAdminServer
from tests.servers.shopify_search import search_terms
from tests.servers.woocommerce_api import ApiKey, WooCommerceTestServer

EMAIL, CUSTOMER = "olena@example.com", "603851970716743426"


# --- Shopify --------------------------------------------------------------------------------------

@pytest.fixture
def shopify():
    with ShopifyAdminServer() as srv:
        yield srv


@pytest.fixture
def shop(shopify):
    # A fresh name per test: the client's bucket estimate is process-wide, keyed by domain.
    return shopify.add_shop(f"shop-{secrets.token_hex(4)}")


@pytest.fixture
def http(shopify):
    with shopify.http_client(timeout=2.0) as client:
        yield PlatformHttp(shopify=client)


@pytest.fixture
def impatient_http(shopify):
    with shopify.http_client(timeout=0.5) as client:
        yield PlatformHttp(shopify=client)


def shopify_client(grant, http):
    return SHOPIFY.store_client(StoreCredentials(grant.domain, grant.access_token), http)


def test_an_unpaid_open_shopify_order_is_found_by_customer_id(shopify, shop, http):
    # given an unpaid, unfulfilled order of customer 6038..., and an older paid one of theirs
    shopify.add_order(shop.domain, email=EMAIL, customer_id=CUSTOMER, financial="PAID", fulfillment="FULFILLED")
    order = shopify.add_order(shop.domain, email=EMAIL, customer_id=CUSTOMER)
    # when the customer's open orders are looked up by their GID
    result = shopify_client(shop, http).find_open_order(EMAIL, f"gid://shopify/Customer/{CUSTOMER}")
    # then the open one is named by its order name, after one request, and Shopify searched by customer id
    assert (result.outcome, result.platform_id, result.calls) == (CallOutcome.DONE, order.name, 1)
    assert ("customer_id", CUSTOMER) in [(t.field, t.value) for t in search_terms(shopify.searches(shop.domain)[-1])]


def test_a_paid_but_unshipped_shopify_order_of_a_guest_is_found_by_email(shopify, shop, http):
    # given a guest's order that is paid but not yet fulfilled (not delivered)
    order = shopify.add_order(shop.domain, email="Olena@Example.com", financial="PAID", fulfillment="UNFULFILLED")
    # when the contact, known only by email, is looked up
    result = shopify_client(shop, http).find_open_order(EMAIL, None)
    # then the order counts: the customer is still waiting for it
    assert (result.outcome, result.platform_id) == (CallOutcome.DONE, order.name)


@pytest.mark.parametrize("state", [dict(financial="PAID", fulfillment="FULFILLED"),
                                   dict(cancelled=True, financial="VOIDED"),
                                   dict(closed=True, financial="PENDING")],
                         ids=["paid_and_fulfilled", "cancelled", "closed"])
def test_a_shopify_order_that_is_settled_cancelled_or_closed_does_not_count(shopify, shop, http, state):
    # given only an order that is done with
    shopify.add_order(shop.domain, email=EMAIL, customer_id=CUSTOMER, **state)
    # when the contact is looked up, by customer id and by email
    client = shopify_client(shop, http)
    by_id, by_email = client.find_open_order(EMAIL, CUSTOMER), client.find_open_order(EMAIL, None)
    # then there is no open order
    assert (by_id.outcome, by_email.outcome) == (CallOutcome.ABSENT, CallOutcome.ABSENT)


def test_another_customers_open_shopify_order_does_not_count(shopify, shop, http):
    # given open orders of someone else, with another customer id and another email
    shopify.add_order(shop.domain, email="hanna@example.com", customer_id="42")
    # when our contact is looked up both ways
    client = shopify_client(shop, http)
    # then nothing is found
    assert client.find_open_order(EMAIL, CUSTOMER).outcome == CallOutcome.ABSENT
    assert client.find_open_order(EMAIL, None).outcome == CallOutcome.ABSENT


def test_an_order_paid_and_shipped_a_moment_ago_does_not_count_while_the_search_index_lags(shopify, shop, http):
    # given an order that was just paid and fulfilled, which Shopify's search still indexes as unpaid
    order = shopify.add_order(shop.domain, email=EMAIL, customer_id=CUSTOMER)
    shopify.update_order(shop.domain, order.id, reindex=False, financial="PAID", fulfillment="FULFILLED")
    # when the contact is looked up
    result = shopify_client(shop, http).find_open_order(EMAIL, CUSTOMER)
    # then the search returned it, but its own fields say it is settled
    assert result.outcome == CallOutcome.ABSENT


def test_the_contacts_own_order_ids_are_excluded(shopify, shop, http):
    # given the contact's only open order is one the caller names as its own
    order = shopify.add_order(shop.domain, email=EMAIL)
    # when it is excluded by id
    result = shopify_client(shop, http).find_open_order(EMAIL, None, exclude_ids=(order.id.rpartition("/")[2],))
    # then it is not "another order"
    assert result.outcome == CallOutcome.ABSENT


@pytest.mark.parametrize("email", ['victim@example.com" OR email:"olena@example.com',
                                   'o"brien (vip) OR status:open\\@example.com', "anna smith@example.com"])
def test_an_email_with_quotes_or_spaces_stays_one_value_in_the_search(shopify, shop, http, email):
    # given an open order of someone else, which a broken-out query would find
    shopify.add_order(shop.domain, email=EMAIL)
    # when an odd email (quotes, parentheses, OR, a backslash, a space) is looked up
    result = shopify_client(shop, http).find_open_order(email, None)
    # then Shopify parsed exactly one email term, equal to the whole address, and found nothing
    terms = search_terms(shopify.searches(shop.domain)[-1])
    assert [t.value for t in terms if t.field == "email"] == [email]
    assert result.outcome == CallOutcome.ABSENT


def test_an_odd_customer_id_is_never_pasted_into_the_query(shopify, shop, http):
    # given a customer id that is not a number
    shopify.add_order(shop.domain, email="someone@example.com")
    # when it is looked up
    result = shopify_client(shop, http).find_open_order(EMAIL, "1 OR email:someone@example.com")
    # then the client fell back to the quoted email
    assert result.outcome == CallOutcome.ABSENT
    assert [t.field for t in search_terms(shopify.searches(shop.domain)[-1])][0] == "email"


def test_throttling_that_does_not_end_is_retry(shopify, shop, http):
    # given Shopify asks for 30 s of patience
    shopify.fail_next(429, retry_after=30)
    # when the contact is looked up
    result = shopify_client(shop, http).find_open_order(EMAIL, CUSTOMER)
    # then the worker is told to come back, not held up
    assert (result.outcome, result.retry_after, result.calls) == (CallOutcome.RETRY, 30.0, 1)


def test_a_throttled_read_is_waited_out_and_charged_its_real_cost(shopify, http):
    # given a shop whose bucket is found empty once (restoring 100 points/s)
    shop = shopify.add_shop(f"shop-{secrets.token_hex(4)}", maximum_available=1000, restore_rate=100)
    order = shopify.add_order(shop.domain, email=EMAIL)
    shopify.throttle_next()
    # when the contact is looked up
    result = shopify_client(shop, http).find_open_order(EMAIL, None)
    # then the client waited and asked again: found, in two requests
    assert (result.outcome, result.platform_id, result.calls) == (CallOutcome.DONE, order.name, 2)
    assert shopify.count("orders") == 2 and shopify.throttled == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_retry(shopify, shop, http, status):
    # given Shopify fails the read
    shopify.fail_next(status)
    # when the contact is looked up
    result = shopify_client(shop, http).find_open_order(EMAIL, CUSTOMER)
    # then it is simply retried later (a read is safe to repeat)
    assert (result.outcome, result.calls) == (CallOutcome.RETRY, 1)


def test_a_late_answer_is_retry(shopify, shop, impatient_http):
    # given Shopify answers after the client gave up
    shopify.delay_next(1.5)
    # when the contact is looked up
    result = shopify_client(shop, impatient_http).find_open_order(EMAIL, CUSTOMER)
    # then it is RETRY, never UNKNOWN
    assert result.outcome == CallOutcome.RETRY


def test_an_expired_token_is_auth(shopify, shop, http):
    # given the shop's access token has expired
    shopify.expire_token(shop.domain)
    # when the contact is looked up
    result = shopify_client(shop, http).find_open_order(EMAIL, CUSTOMER)
    # then the caller is told to refresh the token
    assert result.outcome == CallOutcome.AUTH


def test_a_missing_read_orders_scope_is_refused_with_shopifys_message(shopify, shop, http):
    # given the merchant's grant lacks read_orders
    shopify.revoke_scope(shop.domain, "read_orders")
    # when the contact is looked up
    result = shopify_client(shop, http).find_open_order(EMAIL, CUSTOMER)
    # then it is REFUSED in Shopify's words: a person must fix the grant
    assert result.outcome == CallOutcome.REFUSED
    assert result.error == "Access denied for orders field. Required access: `read_orders` access scope."


def test_a_contact_without_email_or_customer_id_is_not_looked_up(shopify, shop, http):
    # when a contact with nothing to search by is looked up
    result = shopify_client(shop, http).find_open_order("  ", None)
    # then there is nothing to find, and no request was made
    assert (result.outcome, result.calls) == (CallOutcome.ABSENT, 0)
    assert shopify.count("orders") == 0


def test_the_logs_name_order_ids_but_never_the_email(shopify, shop, http, caplog):
    # given an order the search index still shows as unpaid although it is settled
    order = shopify.add_order(shop.domain, email=EMAIL)
    shopify.update_order(shop.domain, order.id, reindex=False, financial="PAID", fulfillment="FULFILLED")
    caplog.set_level(logging.DEBUG, logger="connectors")
    # when the contact is looked up
    shopify_client(shop, http).find_open_order(EMAIL, None)
    # then the stale hit is logged by its id and a code, without the address
    [record] = [r for r in caplog.records if getattr(r, "code", None) == "shopify_order_search_stale"]
    assert record.order_id == order.id
    assert EMAIL not in caplog.text and EMAIL not in str(vars(record))


# --- WooCommerce ----------------------------------------------------------------------------------

@pytest.fixture
def store():
    with WooCommerceTestServer() as srv:
        yield srv


@pytest.fixture
def key(store) -> ApiKey:
    return store.add_key()


def woo_client(store, key: ApiKey, timeout: float = 2.0, secret: str | None = None):
    credentials = StoreCredentials(store.url, consumer_key=key.consumer_key,
                                   consumer_secret=secret or key.consumer_secret)
    return WOOCOMMERCE.store_client(credentials, PlatformHttp(shopify=None, timeout=timeout))


def test_a_processing_woocommerce_order_of_the_email_is_found(store, key):
    # given a paid order still being prepared (processing), billed to the contact
    order = store.add_order("processing", email="Olena@Example.com", first_name="Olena")
    # when the contact is looked up
    result = woo_client(store, key).find_open_order(EMAIL, None)
    # then it is named by its order number, after one request
    assert (result.outcome, result.platform_id, result.calls) == (CallOutcome.DONE, f"#{order['number']}", 1)


def test_the_contacts_own_pending_cart_is_not_another_order(store, key):
    # given the contact's cart, which WooCommerce keeps as a pending order
    cart = store.add_order("pending", email=EMAIL)
    # when the contact is looked up with that cart excluded
    result = woo_client(store, key).find_open_order(EMAIL, None, exclude_ids=(str(cart["id"]),))
    # then there is no other open order; a second pending order would count
    assert result.outcome == CallOutcome.ABSENT
    other = store.add_order("on-hold", email=EMAIL)
    again = woo_client(store, key).find_open_order(EMAIL, None, exclude_ids=(str(cart["id"]),))
    assert (again.outcome, again.platform_id) == (CallOutcome.DONE, f"#{other['number']}")


@pytest.mark.parametrize("status", ["completed", "cancelled", "refunded", "failed"])
def test_a_finished_woocommerce_order_does_not_count(store, key, status):
    # given only an order that is done with
    store.add_order(status, email=EMAIL)
    # when the contact is looked up
    result = woo_client(store, key).find_open_order(EMAIL, None)
    # then there is no open order
    assert result.outcome == CallOutcome.ABSENT


def test_a_fuzzy_search_hit_on_a_similar_email_does_not_count(store, key):
    # given open orders of hanna@example.com and of anna@example.com.au
    store.add_order("processing", email="hanna@example.com")
    store.add_order("pending", email="anna@example.com.au")
    # when anna@example.com is looked up
    result = woo_client(store, key).find_open_order("anna@example.com", None)
    # then WooCommerce's LIKE search found both, but neither is hers
    assert result.outcome == CallOutcome.ABSENT


def test_a_page_full_of_near_misses_is_followed_by_the_next_one(store, key):
    # given the contact's open order is older than ten open orders of similar addresses
    mine = store.add_order("processing", email="anna@example.com")
    for n in range(10):
        store.add_order("processing", email=f"{n}anna@example.com")
    # when anna@example.com is looked up
    result = woo_client(store, key).find_open_order("anna@example.com", None)
    # then the second page finds her order
    assert (result.outcome, result.platform_id, result.calls) == (CallOutcome.DONE, f"#{mine['number']}", 2)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_woocommerce_server_error_or_throttling_is_retry(store, key, status):
    # given the store fails the read
    store.fail_next(status, retry_after=5)
    # when the contact is looked up
    result = woo_client(store, key).find_open_order(EMAIL, None)
    # then it is retried later
    assert (result.outcome, result.retry_after) == (CallOutcome.RETRY, 5.0)


@pytest.mark.parametrize("fault", ["delay", "drop"])
def test_a_woocommerce_read_without_answer_is_retry(store, key, fault):
    # given the store answers late, or closes the connection
    store.delay_next(2.0) if fault == "delay" else store.drop_next()
    # when the contact is looked up
    result = woo_client(store, key, timeout=0.5).find_open_order(EMAIL, None)
    # then it is RETRY, never UNKNOWN
    assert result.outcome == CallOutcome.RETRY


def test_a_wrong_woocommerce_secret_is_refused_and_nothing_is_listed(store, key):
    # given a client that signs with a wrong secret
    client = woo_client(store, key, secret="cs_" + "0" * 40)
    # when the contact is looked up
    result = client.find_open_order(EMAIL, None)
    # then WooCommerce refuses the signature and the merchant is asked to reconnect
    assert result.outcome == CallOutcome.REFUSED
    assert "reconnect the store" in result.error and "Invalid signature" in result.error
    assert store.seen[-1].status == 401


def test_a_woocommerce_key_whose_user_may_not_list_orders_is_refused(store):
    # given a key of a user without the capability to read orders
    client = woo_client(store, store.add_key(can_manage=False))
    # when the contact is looked up
    result = client.find_open_order(EMAIL, None)
    # then WooCommerce's own refusal reaches the merchant
    assert result.outcome == CallOutcome.REFUSED and "woocommerce_rest_cannot_view" in result.error


def test_the_woocommerce_request_asks_only_for_open_statuses_and_the_email(store, key):
    # given orders of the contact in several statuses, the newest ones finished
    orders = {status: store.add_order(status, email=EMAIL)
              for status in ("pending", "on-hold", "processing", "completed", "cancelled")}
    # when the contact is looked up, excluding nothing
    result = woo_client(store, key).find_open_order(EMAIL, None)
    # then the newest open one is named, after one request
    assert (result.outcome, result.platform_id) == (CallOutcome.DONE, f"#{orders['processing']['number']}")
    assert store.count("orders") == 1
