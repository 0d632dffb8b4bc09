"""Installing Shopify shops and connecting WooCommerce stores (bridge.services.install), on each
database: the shop row, its encrypted credentials, its reinstall, and the one-time requests."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, InstallRequest, OptOut, SequenceStep, Shop, ShopSync
from bridge.model import AppUninstalled, ShopRedacted
from bridge.services.events import apply_event
from bridge.services.inbox import process_inbox
from bridge.services.install import connect_woocommerce, install_shopify, start_request, take_request
from connectors.base import TokenSet
from connectors.registry import CONNECTORS
from tests.support.shops import add_shopify_shop, checkout, post_shopify

DOMAIN = "cartbridge-test.myshopify.com"
STORE = "https://woo.example"


def tokens(clock, access: str = "shpat_first") -> TokenSet:
    return TokenSet(access, clock() + timedelta(minutes=60), "shprt_" + access, clock() + timedelta(days=90))


def install(runtime, clock, *, access: str = "shpat_first", managed_by: str = "shopify") -> int:
    with unit_of_work(runtime.sessions) as session:
        return install_shopify(session, runtime.box, domain=DOMAIN, tokens=tokens(clock, access),
                               scopes="read_orders,write_discounts,read_customers", now=clock(),
                               managed_by=managed_by).id


def connect(runtime, clock, *, key: str = "ck_first", url: str = STORE) -> int:
    with unit_of_work(runtime.sessions) as session:
        return connect_woocommerce(session, runtime.box, url=url, consumer_key=key, consumer_secret="cs_" + key,
                                   now=clock()).id


def shop_and_sync(runtime, shop_id: int) -> tuple[Shop, ShopSync]:
    with unit_of_work(runtime.sessions) as session:
        return session.get(Shop, shop_id), session.get(ShopSync, shop_id)


def apply(runtime, shop_id: int, event) -> None:
    with unit_of_work(runtime.sessions) as session:
        apply_event(session, session.get(Shop, shop_id), event, runtime.now(), runtime.contacts())


def count(runtime, model, *where) -> int:
    with unit_of_work(runtime.sessions) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# install_shopify

def test_a_first_install_creates_the_shop_with_encrypted_tokens_and_a_seven_day_backfill_due_now(runtime, clock):
    # given no shop / when Shopify hands over the expiring offline token of a first install
    shop_id = install(runtime, clock)
    # then the shop exists with the default sequence, its tokens sealed, installed now
    shop, sync = shop_and_sync(runtime, shop_id)
    assert (shop.platform, shop.domain, shop.name, shop.status) == ("shopify", DOMAIN, "cartbridge-test", "active")
    assert (shop.installed_at, shop.uninstalled_at, shop.webhooks_managed_by) == (clock(), None, "shopify")
    assert shop.scopes == "read_orders,write_discounts,read_customers"
    assert runtime.box.open(shop.access_token_enc) == "shpat_first"
    assert b"shpat_first" not in bytes(shop.access_token_enc)
    assert runtime.box.open(shop.refresh_token_enc) == "shprt_shpat_first"
    assert shop.access_token_expires_at == clock() + timedelta(minutes=60)
    assert count(runtime, SequenceStep, SequenceStep.shop_id == shop_id) == 3
    # and it is reconciled at the worker's next pass, from seven days back, and its webhooks checked
    assert (sync.next_sync_at, sync.next_health_at) == (clock(), clock())
    assert sync.backfill_since == clock() - timedelta(days=7)
    assert (sync.cursors, sync.webhook_ids, sync.sync_claimed_until) == ({}, {}, None)


def test_a_repeated_token_exchange_only_replaces_the_tokens(runtime, clock):
    # given an installed shop whose first sync already ran (its backfill is done)
    shop_id = install(runtime, clock)
    installed_at = clock()
    with unit_of_work(runtime.sessions) as session:
        sync = session.get(ShopSync, shop_id)
        sync.backfill_since, sync.next_sync_at = None, clock() + timedelta(minutes=15)
    # when the embedded app exchanges a session token again an hour later
    clock.advance(hours=1)
    again = install(runtime, clock, access="shpat_second")
    # then it is the same shop with the new token, installed when it was, and nothing rescheduled
    shop, sync = shop_and_sync(runtime, again)
    assert again == shop_id
    assert runtime.box.open(shop.access_token_enc) == "shpat_second"
    assert shop.installed_at == installed_at
    assert (sync.backfill_since, sync.next_sync_at) == (None, installed_at + timedelta(minutes=15))


def test_a_reinstall_after_an_uninstall_reuses_the_shop_with_its_carts_and_opt_outs(runtime, client, clock):
    # given an installed shop with a cart and an opt-out, then uninstalled
    shop_id = install(runtime, clock)
    post_shopify(client, "checkouts/create", checkout("tok-1", clock()), webhook_id="w1")
    process_inbox(runtime.sessions, CONNECTORS, runtime.now, runtime.contacts())   # no worker: no platform calls
    with unit_of_work(runtime.sessions) as session:
        session.add(OptOut(shop_id=shop_id, contact_hash="h" * 64, kind="email", active=True, source="link",
                           created_at=clock()))
    apply(runtime, shop_id, AppUninstalled(occurred_at=clock()))
    # when the merchant installs the app again a day later
    clock.advance(days=1)
    again = install(runtime, clock, access="shpat_again")
    # then the same shop row is active again with the new token, and its carts and opt-outs are there
    shop, sync = shop_and_sync(runtime, again)
    assert again == shop_id
    assert (shop.status, shop.uninstalled_at, shop.installed_at) == ("active", None, clock())
    assert runtime.box.open(shop.access_token_enc) == "shpat_again"
    assert count(runtime, Cart, Cart.shop_id == shop_id) == 1
    assert count(runtime, OptOut, OptOut.shop_id == shop_id) == 1
    assert count(runtime, Shop) == 1
    # and it is synced at once from seven days back (no sync ever finished, so there is no cursor)
    assert (sync.next_sync_at, sync.backfill_since) == (clock(), clock() - timedelta(days=7))


def test_a_reinstall_soon_after_an_uninstall_carries_on_from_the_cursors(runtime, clock):
    # given an installed shop synced up to an hour ago, then uninstalled
    shop_id = install(runtime, clock)
    with unit_of_work(runtime.sessions) as session:
        sync = session.get(ShopSync, shop_id)
        sync.cursors = {"checkouts": clock().isoformat(), "orders": clock().isoformat()}
        sync.backfill_since = None
    apply(runtime, shop_id, AppUninstalled(occurred_at=clock()))
    # when it is installed again an hour later
    clock.advance(hours=1)
    install(runtime, clock)
    # then the next sync reads from the cursors, not seven days back
    _shop, sync = shop_and_sync(runtime, shop_id)
    assert (sync.next_sync_at, sync.backfill_since) == (clock(), None)


def test_a_shop_erased_by_shop_redact_gets_the_default_sequence_when_installed_again(runtime, clock):
    # given a shop Shopify asked to erase (its sequence went with everything else)
    shop_id = install(runtime, clock)
    apply(runtime, shop_id, ShopRedacted())
    assert count(runtime, SequenceStep, SequenceStep.shop_id == shop_id) == 0
    # when the merchant installs the app again
    clock.advance(days=60)
    install(runtime, clock)
    # then the tombstone becomes the active shop again, with the default sequence
    shop, _sync = shop_and_sync(runtime, shop_id)
    assert shop.status == "active"
    assert count(runtime, SequenceStep, SequenceStep.shop_id == shop_id) == 3


def test_installing_a_shop_added_by_hand_takes_over_its_row(runtime, clock):
    # given a shop an agency added with `cartbridge shops add` (a custom-app token, not reconciled)
    shop_id = add_shopify_shop(runtime, DOMAIN)
    assert shop_and_sync(runtime, shop_id)[1] is None
    # when the app is installed on it
    installed = install(runtime, clock, managed_by="cartbridge")
    # then the same shop now holds the app's token, is installed, and is reconciled from now on
    shop, sync = shop_and_sync(runtime, installed)
    assert installed == shop_id
    assert (shop.installed_at, shop.webhooks_managed_by) == (clock(), "cartbridge")
    assert sync.next_sync_at == clock()


# connect_woocommerce

def test_connecting_a_store_keeps_its_keys_sealed_and_generates_a_webhook_secret(runtime, clock):
    # given no store / when its owner approves the keys (trailing slash and spaces as typed)
    shop_id = connect(runtime, clock, url=f" {STORE}/ ")
    # then the store is saved under its plain URL with its keys encrypted and a fresh secret
    shop, sync = shop_and_sync(runtime, shop_id)
    assert (shop.platform, shop.domain, shop.name, shop.webhooks_managed_by) == (
        "woocommerce", STORE, "woo.example", "cartbridge")
    assert runtime.box.open(shop.consumer_key_enc) == "ck_first"
    assert runtime.box.open(shop.consumer_secret_enc) == "cs_ck_first"
    secret = runtime.box.open(shop.webhook_secret_enc)
    assert len(secret) >= 43      # secrets.token_urlsafe(32)
    # and the worker registers its webhooks and reads its last seven days at the next pass
    assert (sync.next_sync_at, sync.next_health_at) == (clock(), clock())
    assert sync.backfill_since == clock() - timedelta(days=7)


def test_reconnecting_a_store_keeps_its_webhook_secret_and_takes_the_new_keys(runtime, clock):
    # given a connected store, its webhooks already checked and its first sync done
    shop_id = connect(runtime, clock)
    secret = runtime.box.open(shop_and_sync(runtime, shop_id)[0].webhook_secret_enc)
    with unit_of_work(runtime.sessions) as session:
        sync = session.get(ShopSync, shop_id)
        sync.next_sync_at = sync.next_health_at = clock() + timedelta(minutes=15)
    # when the owner connects it again (new keys)
    clock.advance(minutes=5)
    again = connect(runtime, clock, key="ck_second")
    # then deliveries in flight stay valid (same secret), the new keys are used, and the
    # webhooks are checked and the store synced at once
    shop, sync = shop_and_sync(runtime, again)
    assert again == shop_id
    assert runtime.box.open(shop.webhook_secret_enc) == secret
    assert runtime.box.open(shop.consumer_key_enc) == "ck_second"
    assert (sync.next_sync_at, sync.next_health_at) == (clock(), clock())


# install requests

def start(runtime, clock, platform: str = "woocommerce") -> str:
    with unit_of_work(runtime.sessions) as session:
        return start_request(session, platform=platform, domain=STORE, user_id=None, now=clock())


def take(runtime, clock, nonce: str, platform: str = "woocommerce") -> InstallRequest | None:
    with unit_of_work(runtime.sessions) as session:
        return take_request(session, platform=platform, nonce=nonce, now=clock())


def test_a_request_is_taken_once(runtime, clock):
    # given a connect started now
    nonce = start(runtime, clock)
    assert len(nonce) >= 43
    # when its callback arrives, and then again (a replay)
    clock.advance(minutes=10)
    first, second = take(runtime, clock, nonce), take(runtime, clock, nonce)
    # then the first gets the request, marked used, and the replay gets nothing
    assert (first.platform, first.domain, first.used_at, first.user_id) == ("woocommerce", STORE, clock(), None)
    assert second is None


def test_a_request_expires_after_an_hour(runtime, clock):
    # given a connect started an hour ago
    nonce = start(runtime, clock)
    clock.advance(hours=1)
    # when its callback arrives now / then it is refused, as is an unknown or empty value
    assert take(runtime, clock, nonce) is None
    assert take(runtime, clock, "not-a-nonce") is None
    assert take(runtime, clock, "") is None


def test_a_request_of_one_platform_does_not_answer_for_the_other(runtime, clock):
    # given a Shopify install under way / when its state comes back to the WooCommerce callback
    nonce = start(runtime, clock, platform="shopify")
    # then it is refused there, and still good for Shopify
    assert take(runtime, clock, nonce, platform="woocommerce") is None
    assert take(runtime, clock, nonce, platform="shopify") is not None


def test_every_request_gets_its_own_value(runtime, clock):
    # given / when two installs start at the same moment / then their values differ
    assert start(runtime, clock) != start(runtime, clock)
