"""A shop with a realistic recent history, made the way production makes it: signed
checkout and order webhooks through the app, and the worker's passes as the clock moves.

Used by the admin page tests (dashboard, carts, templates' preview). What it makes, for
one Shopify shop (customer emails are ``<name>@example.com``):
- anna: abandoned, reminded (step 1), then bought: **recovered** (order 98.00 USD);
- boris: abandoned, reminded twice (steps 1 and 2), never bought, step 3 pending;
- chloe: bought within the idle threshold: **converted**, never reminded;
- dmytro: abandoned, reminded twice (steps 1 and 2, Ukrainian), step 3 still pending.
"""
from __future__ import annotations

from dataclasses import dataclass

from bridge.worker import run
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop, checkout, order, post_shopify


@dataclass(frozen=True)
class Story:
    shop_id: int
    domain: str


def seed_story(runtime, client, clock, *, domain: str = SHOP_DOMAIN, shop_id: int | None = None,
               prefix: str = "") -> Story:
    """Plays about 26 hours of one shop's life; the clock ends 26 h 2 min after it began."""
    if shop_id is None:
        shop_id = add_shopify_shop(runtime, domain)
    start = clock()
    people = (("anna", "en", "49.00"), ("boris", "en", "120.00"), ("chloe", "en", "15.00"),
              ("dmytro", "uk", "35.50"))
    for number, (name, locale, price) in enumerate(people, 1):
        body = checkout(f"{prefix}tok-{name}", start, email=f"{name}@example.com", first_name=name.title(),
                        locale=locale, price=price)
        body["customer"]["id"] = 7100 + number     # one customer each: orders match by customer too
        response = post_shopify(client, "checkouts/create", body, webhook_id=f"{prefix}w-{name}", domain=domain)
        assert response.status_code == 200, response.get_data(as_text=True)
    chloe = _order(9003, clock.advance(minutes=20), f"{prefix}tok-chloe", "chloe@example.com", 7103)
    post_shopify(client, "orders/create", chloe, webhook_id=f"{prefix}o-chloe", domain=domain)
    run(runtime, once=True)
    clock.advance(minutes=42)       # past the 60-minute idle threshold: step 1 for the rest
    run(runtime, once=True)
    anna = _order(9001, clock.advance(hours=2), f"{prefix}tok-anna", "anna@example.com", 7101)
    post_shopify(client, "orders/create", anna, webhook_id=f"{prefix}o-anna", domain=domain)
    run(runtime, once=True)
    clock.advance(hours=23)          # step 2 (24 h after abandonment) for boris and dmytro
    run(runtime, once=True)
    return Story(shop_id, domain)


def _order(order_id: int, placed_at, token: str, email: str, customer_id: int) -> dict:
    body = order(order_id, placed_at, checkout_token=token, email=email)
    body["customer"]["id"] = customer_id
    return body
