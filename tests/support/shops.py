"""Helpers for integration tests: shops, checkout/order payloads, signed posts."""
from __future__ import annotations

import json
from datetime import datetime

from bridge.db.engine import unit_of_work
from bridge.rules import SequenceSettings, StepSetting
from bridge.services.shops import create_shop, save_sequence
from tests.support.fixtures import shopify_headers, woocommerce_headers

SHOP_DOMAIN = "cartbridge-test.myshopify.com"
WOO_SECRET = "woo-webhook-secret"


def add_shopify_shop(runtime, domain: str = SHOP_DOMAIN, *, abandon_after: int | None = None,
                     delays: tuple[int, ...] | None = None, language: str = "en") -> int:
    with unit_of_work(runtime.sessions) as session:
        shop = create_shop(session, runtime.box, platform="shopify", domain=domain, name="Test Shop",
                           now=runtime.now(), access_token="shpat_secret_token")
        shop.language = language
        _maybe_sequence(session, shop, abandon_after, delays)
        return shop.id


def add_woo_shop(runtime, url: str = "https://shop.example.com", *, secret: str = WOO_SECRET,
                 abandon_after: int | None = None, delays: tuple[int, ...] | None = None) -> int:
    with unit_of_work(runtime.sessions) as session:
        shop = create_shop(session, runtime.box, platform="woocommerce", domain=url, name="Woo Shop",
                           now=runtime.now(), consumer_key="ck_x", consumer_secret="cs_x", webhook_secret=secret)
        _maybe_sequence(session, shop, abandon_after, delays)
        return shop.id


# Sending manners off: the timing tests move a clock through steps minutes apart, at any
# hour, with no platform API to ask about other orders. The manners' own tests
# (tests/integration/test_manners*.py) switch them on with ``set_manners``.
NO_MANNERS = dict(consent_policy="everyone", frequency_cap_hours=0, quiet_hours_start=0, quiet_hours_end=0,
                  reentry_cooldown_days=0, open_order_check=False)


def set_manners(runtime, shop_id: int, **values) -> None:
    from bridge.db.tables import Shop
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        for name, value in values.items():
            setattr(shop, name, value)


def _maybe_sequence(session, shop, abandon_after, delays) -> None:
    """Plain reminders unless a test asks for codes (tests/integration/test_discount_*.py do):
    the timing tests run without a platform API to create codes on."""
    for name, value in NO_MANNERS.items():
        setattr(shop, name, value)
    steps = tuple(StepSetting(i, d) for i, d in enumerate(delays or (60, 1440, 4320), 1))
    save_sequence(session, shop, SequenceSettings(60 if abandon_after is None else abandon_after, steps))


def checkout(token: str, updated_at: datetime, *, email: str | None = "anna@example.com",
             first_name: str = "Anna", locale: str = "en", cart_token: str | None = None,
             completed_at: datetime | None = None, title: str = "Linen Shirt", price: str = "49.00") -> dict:
    return {
        "token": token, "cart_token": cart_token or f"cart-{token}", "email": email, "phone": None,
        "created_at": updated_at.isoformat(), "updated_at": updated_at.isoformat(),
        "completed_at": completed_at.isoformat() if completed_at else None,
        "customer_locale": locale, "currency": "USD", "presentment_currency": "USD",
        "buyer_accepts_marketing": True,
        "customer": {"id": 7001, "first_name": first_name, "email": email},
        "line_items": [{"title": title, "presentment_title": title, "variant_title": "M", "quantity": 2,
                        "price": price, "product_id": 11, "variant_id": 12, "sku": "LS-M"}],
        "subtotal_price": str(2 * float(price)), "total_price": str(2 * float(price)),
        "abandoned_checkout_url": f"https://{SHOP_DOMAIN}/checkouts/{token}/recover?key=k",
    }


def order(order_id: int, placed_at: datetime, *, checkout_token: str | None = None,
          cart_token: str | None = None, email: str | None = "anna@example.com") -> dict:
    return {"id": order_id, "checkout_token": checkout_token, "cart_token": cart_token, "email": email,
            "contact_email": email, "created_at": placed_at.isoformat(), "processed_at": placed_at.isoformat(),
            "updated_at": placed_at.isoformat(), "currency": "USD", "presentment_currency": "USD",
            "total_price": "98.00", "customer": {"id": 7001, "email": email}, "line_items": []}


def post_shopify(client, topic: str, payload, *, webhook_id: str, secret: str | None = None,
                 domain: str = SHOP_DOMAIN, overrides: dict | None = None):
    from tests.conftest import SHOPIFY_SECRET
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = shopify_headers(topic, raw, secret or SHOPIFY_SECRET,
                              {"X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Shop-Domain": domain,
                               **(overrides or {})})
    return client.post("/webhooks/shopify", data=raw, headers=headers)


def post_woo(client, shop_id: int, topic: str, payload, *, secret: str = WOO_SECRET,
             overrides: dict | None = None):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(f"/webhooks/woocommerce/{shop_id}", data=raw,
                       headers=woocommerce_headers(topic, raw, secret, overrides))
