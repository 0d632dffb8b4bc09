"""Signed sample webhooks for the demo, shaped like the platforms' real payloads.

Each run uses fresh ids so the demo can be run again on the same database.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.request
import uuid
from datetime import UTC, datetime

DEMO_SHOPIFY = "cartbridge-demo.myshopify.com"
DEMO_WOO_URL = "https://woo-demo.example"
WOO_SECRET = "demo-woo-webhook-secret"

CUSTOMERS = [  # (key, first name, email, locale, product, price, currency)
    ("anna", "Anna", "anna@example.com", "en", "Linen Shirt", "49.00", "USD"),
    ("olena", "Олена", "olena@example.com.ua", "uk", "Вишиванка лляна", "2350.00", "UAH"),
    ("aigul", "Айгүл", "aigul@example.kz", "kk", "Киіз үй сувенирі", "15900.00", "KZT"),
    ("bob", "Bob", "bob@example.com", "en", "Trail Running Shoes", "129.00", "USD"),
]
WOO_CUSTOMERS = [
    ("ivan", "Иван", "ivan@example.ru", "ru_RU", "Шерстяной плед", "3490.00", "RUB"),
    ("maria", "Мария", "maria@example.bg", "bg_BG", "Керамична чаша", "24.90", "BGN"),
]
EXPECTED_FIRST_REMINDERS = len(CUSTOMERS) + len(WOO_CUSTOMERS)


def deliveries(base: str, shops: dict[str, int], shopify_secret: str, run_id: str):
    now = datetime.now(UTC)
    for key, name, email, locale, product, price, currency in CUSTOMERS:
        body = _checkout(f"demo-{key}-{run_id}", name, email, locale, product, price, currency, now)
        yield f"checkouts/create for {name} ({locale})", _shopify(base, "checkouts/create", body, shopify_secret)
    for n, (key, name, email, locale, product, price, currency) in enumerate(WOO_CUSTOMERS):
        body = _woo_order(int(run_id) * 10 + n, name, email, locale, product, price, currency, now)
        yield (f"order.created (pending) for {name} ({locale})",
               _woo(base, shops["woocommerce"], "order.created", body))


def order_for_buyer(base: str, shopify_secret: str, run_id: str) -> urllib.request.Request:
    now = datetime.now(UTC).isoformat()
    body = {"id": int(run_id) + 9_000_000, "checkout_token": f"demo-bob-{run_id}", "cart_token": None,
            "email": "bob@example.com", "created_at": now, "processed_at": now, "currency": "USD",
            "total_price": "129.00", "customer": {"id": 42, "email": "bob@example.com"}, "line_items": []}
    return _shopify(base, "orders/create", body, shopify_secret)


def _checkout(token, name, email, locale, product, price, currency, now) -> dict:
    return {"token": token, "cart_token": f"cart-{token}", "email": email, "customer_locale": locale,
            "created_at": now.isoformat(), "updated_at": now.isoformat(), "completed_at": None,
            "currency": currency, "presentment_currency": currency, "buyer_accepts_marketing": True,
            "customer": {"id": abs(hash(email)) % 10**9, "first_name": name, "email": email},
            "line_items": [{"title": product, "presentment_title": product, "quantity": 1, "price": price,
                            "product_id": 1, "variant_id": 2, "variant_title": None}],
            "subtotal_price": price, "total_price": price,
            "abandoned_checkout_url": f"https://{DEMO_SHOPIFY}/checkouts/{token}/recover?key=demo"}


def _woo_order(order_id, name, email, locale, product, price, currency, now) -> dict:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S")
    return {"id": order_id, "status": "pending", "currency": currency, "total": price,
            "date_created_gmt": stamp, "date_modified_gmt": stamp, "customer_id": 0,
            "billing": {"first_name": name, "email": email, "phone": ""},
            "meta_data": [{"id": 1, "key": "_locale", "value": locale},
                          {"id": 2, "key": "_cartbridge_accepts_marketing", "value": "yes"}],
            "line_items": [{"id": 1, "name": product, "product_id": 7, "variation_id": 0, "quantity": 1,
                            "subtotal": price, "total": price, "price": float(price), "sku": ""}],
            "payment_url": f"{DEMO_WOO_URL}/checkout/order-pay/{order_id}/?pay_for_order=true&key=wc_order_demo"}


def _shopify(base: str, topic: str, body: dict, secret: str) -> urllib.request.Request:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return urllib.request.Request(base + "/webhooks/shopify", data=raw, method="POST", headers={
        "Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": DEMO_SHOPIFY,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(), "X-Shopify-Hmac-Sha256": _sign(raw, secret)})


def _woo(base: str, shop_id: int, topic: str, body: dict) -> urllib.request.Request:
    raw = json.dumps(body, ensure_ascii=False).encode()
    return urllib.request.Request(f"{base}/webhooks/woocommerce/{shop_id}", data=raw, method="POST", headers={
        "Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": topic.split(".")[1], "X-WC-Webhook-ID": "1", "X-WC-Webhook-Source": DEMO_WOO_URL,
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex, "X-WC-Webhook-Signature": _sign(raw, WOO_SECRET)})


def _sign(raw: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
