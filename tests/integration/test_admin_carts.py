"""The Carts pages through the real app: the list's filters and paging, one cart's timeline,
and that a shop's carts never show up for (or next to) another shop."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Discount, Message, MessageAttempt, Shop
from tests.support.admin import add_user, sign_in
from tests.support.shops import add_shopify_shop
from tests.support.story import seed_story


@pytest.fixture
def story(runtime, client, clock):
    story = seed_story(runtime, client, clock)
    add_user(runtime, shop_ids=[story.shop_id])
    sign_in(client)
    return story


def listed(client, shop_id: int, query: str = "") -> list[str]:
    response = client.get(f"/admin/shops/{shop_id}/carts{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.findall(r'/carts/\d+">([^<]+)</a>', response.get_data(as_text=True))


def cart_id(runtime, shop_id: int, email: str) -> int:
    with runtime.sessions() as db:
        return db.scalar(select(Cart.id).where(Cart.shop_id == shop_id, Cart.email == email))


def test_the_list_shows_every_cart_of_the_shop_newest_first(client, story):
    # when the owner opens the Carts page
    emails = listed(client, story.shop_id)
    # then the story's four carts are there, the last updated (anna's order) first
    assert sorted(emails) == ["anna@example.com", "boris@example.com", "chloe@example.com", "dmytro@example.com"]
    assert emails[0] == "anna@example.com" and emails[-1] == "chloe@example.com"


def test_each_row_shows_value_state_and_reminders_sent(client, story):
    # when the list is shown
    html = client.get(f"/admin/shops/{story.shop_id}/carts").get_data(as_text=True)
    boris = html[html.index("boris@example.com"):].split("</tr>")[0]
    # then boris's row has his cart's value in dollars, its state and his two reminders
    assert "$240.00" in boris and "abandoned" in boris and "Linen Shirt" in boris
    assert re.search(r'class="num">2</td>', boris)


def test_the_state_filter_keeps_only_abandoned_carts(client, story):
    assert sorted(listed(client, story.shop_id, "?state=abandoned")) == ["boris@example.com", "dmytro@example.com"]
    assert listed(client, story.shop_id, "?state=converted") == ["chloe@example.com"]


def test_the_value_range_narrows_by_cart_total(client, story):
    # given totals anna 98, boris 240, chloe 30, dmytro 71
    assert listed(client, story.shop_id, "?min=100") == ["boris@example.com"]
    assert listed(client, story.shop_id, "?max=50") == ["chloe@example.com"]
    assert sorted(listed(client, story.shop_id, "?min=71&max=98")) == ["anna@example.com", "dmytro@example.com"]


def test_the_date_range_counts_days_in_the_shop_time_zone(runtime, client, story):
    # given carts created at 10:20 UTC on 23 November, in a shop on UTC
    assert len(listed(client, story.shop_id, "?from=2026-11-23&to=2026-11-23")) == 4
    assert listed(client, story.shop_id, "?from=2026-11-24") == []
    # when the shop moves to Kiritimati (UTC+14), where 10:20 UTC is already the 24th
    with unit_of_work(runtime.sessions) as db:
        db.get(Shop, story.shop_id).timezone = "Pacific/Kiritimati"
    # then the same carts belong to the 24th
    assert len(listed(client, story.shop_id, "?from=2026-11-24")) == 4
    assert listed(client, story.shop_id, "?to=2026-11-23") == []


def test_search_finds_part_of_an_address_in_any_case(client, story):
    assert listed(client, story.shop_id, "?q=bor") == ["boris@example.com"]
    assert listed(client, story.shop_id, "?q=BOR") == ["boris@example.com"]


def test_an_exact_address_finds_the_customer_by_its_hash(runtime, client, clock, story):
    # given a cart whose address kept letters SQLite's lower() leaves alone (Å)
    with unit_of_work(runtime.sessions) as db:
        db.add(Cart(shop_id=story.shop_id, external_id="tok-asa", email="ÅSA@Example.com", currency="USD",
                    email_hash=runtime.contacts().email_hash("ÅSA@Example.com"), subtotal=Decimal("5"),
                    total=Decimal("5"), state="open", platform_updated_at=clock(), created_at=clock(),
                    updated_at=clock()))
    # when the owner types the whole address in lower case
    found = listed(client, story.shop_id, "?q=" + "  åsa@example.com ".replace(" ", "+"))
    # then the keyed hash of the normalized address finds it
    assert found == ["ÅSA@Example.com"]


@pytest.mark.parametrize("query, name, typed", [("from=2026-13-40", "from", "2026-13-40"),
                                                ("min=-5", "min", "-5"), ("min=abc", "min", "abc"),
                                                ("state=lost", "state", None)])
def test_a_bad_filter_names_the_field_and_keeps_what_was_typed(client, story, query, name, typed):
    # when a filter cannot be read
    response = client.get(f"/admin/shops/{story.shop_id}/carts?{query}")
    html = response.get_data(as_text=True)
    # then the page says which field is wrong, keeps the text, and lists no carts
    assert response.status_code == 422
    assert f'id="e-{name}"' in html and f'href="#f-{name}"' in html
    if typed is not None:
        assert f'name="{name}" value="{typed}"' in html
    assert "boris@example.com" not in html


def test_the_list_pages_by_fifty_and_keeps_the_filters(runtime, client, clock):
    # given a shop with 120 abandoned carts, one updated each minute
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as db:
        now = clock()
        db.add_all(Cart(shop_id=shop_id, external_id=f"bulk-{n}", email=f"bulk{n:03}@example.com", currency="USD",
                        subtotal=Decimal("10.00"), total=Decimal("10.00"), state="abandoned", platform_updated_at=now,
                        created_at=now, updated_at=now + timedelta(minutes=n)) for n in range(120))
    add_user(runtime, shop_ids=[shop_id])
    sign_in(client)
    # when the first page is shown
    html = client.get(f"/admin/shops/{shop_id}/carts?state=abandoned").get_data(as_text=True)
    first = re.findall(r'/carts/\d+">([^<]+)</a>', html)
    # then it holds the 50 newest, says how many there are, and links to the next page with the filter
    assert len(first) == 50 and first[0] == "bulk119@example.com" and first[-1] == "bulk070@example.com"
    assert "120 carts, page 1 of 3" in html
    next_link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "state=abandoned" in next_link and "page=2" in next_link
    second = re.findall(r'/carts/\d+">([^<]+)</a>', client.get(next_link).get_data(as_text=True))
    assert len(second) == 50 and second[0] == "bulk069@example.com"
    last = client.get(f"/admin/shops/{shop_id}/carts?page=3").get_data(as_text=True)
    assert len(re.findall(r'/carts/\d+">', last)) == 20 and 'rel="next"' not in last and 'rel="prev"' in last


def test_the_timeline_tells_annas_story_in_order(runtime, client, story):
    # when the owner opens anna's cart
    html = client.get(f"/admin/shops/{story.shop_id}/carts/{cart_id(runtime, story.shop_id, 'anna@example.com')}")
    page = html.get_data(as_text=True)
    # then her deliveries, the sent reminder, the cancelled steps and the order are there, in time order
    assert html.status_code == 200
    order = [page.index(text) for text in ("<code>checkouts/create</code>", "Step 1 (email)",
                                           "Still thinking about Linen Shirt?", "<code>orders/create</code>",
                                           "Order 9001 placed, $98.00", "Step 2 (email)", "Step 3 (email)")]
    assert order == sorted(order)
    assert page.count("converted: order 9001") == 2 and page.count(">cancelled</span>") == 2
    # and the message as sent: its HTML in a sandboxed frame without scripts, its text part in <pre>
    assert 'sandbox srcdoc="&lt;!DOCTYPE html&gt;' in page and "allow-scripts" not in page
    assert re.search(r"<pre>Hi Anna,", page)


def test_the_timeline_never_shows_a_raw_webhook_body(runtime, client, story):
    page = client.get(f"/admin/shops/{story.shop_id}/carts/{cart_id(runtime, story.shop_id, 'boris@example.com')}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<code>checkouts/create</code>" in text
    assert "presentment_currency" not in text and "buyer_accepts_marketing" not in text


def test_the_timeline_shows_discount_codes_and_failed_attempts(runtime, client, clock, story):
    # given a 10% code for boris's first step and a refused second try of his first message
    boris = cart_id(runtime, story.shop_id, "boris@example.com")
    with unit_of_work(runtime.sessions) as db:
        db.add(Discount(shop_id=story.shop_id, cart_id=boris, step=1, code="CB-TENOFF", kind="percentage",
                        value=Decimal("10"), currency="USD", starts_at=clock(),
                        expires_at=clock() + timedelta(hours=72), status="active", created_at=clock(),
                        updated_at=clock()))
        message = db.scalars(select(Message).where(Message.cart_id == boris).order_by(Message.id)).first()
        db.add(MessageAttempt(message_id=message.id, number=2, started_at=clock(), outcome="failed",
                              status_code=503, error="provider unavailable"))
    # when the cart is opened
    page = client.get(f"/admin/shops/{story.shop_id}/carts/{boris}").get_data(as_text=True)
    # then the code with its value and expiry, and the attempt's status code and error are shown
    assert "CB-TENOFF" in page and "10% off" in page and "expires Nov 27, 2026" in page
    assert "503" in page and "provider unavailable" in page


def test_a_user_of_another_shop_gets_not_found(runtime, client, clock, story):
    # given a second shop with its own owner
    other = seed_story(runtime, client, clock, domain="other.myshopify.com", prefix="b-")
    add_user(runtime, "other@example.com", shop_ids=[other.shop_id])
    sign_in(client, "other@example.com")
    anna = cart_id(runtime, story.shop_id, "anna@example.com")
    # when that owner asks for the first shop's list and cart, directly or under their own shop
    for path in (f"/admin/shops/{story.shop_id}/carts", f"/admin/shops/{story.shop_id}/carts/{anna}",
                 f"/admin/shops/{other.shop_id}/carts/{anna}"):
        # then the answer is a 404
        assert client.get(path).status_code == 404, path


def test_the_list_never_shows_another_shops_cart_with_the_same_email(runtime, client, clock, story):
    # given a second shop where the same four customers have carts
    other = seed_story(runtime, client, clock, domain="other.myshopify.com", prefix="b-")
    mine = cart_id(runtime, story.shop_id, "anna@example.com")
    theirs = cart_id(runtime, other.shop_id, "anna@example.com")
    # when the first shop's owner searches for anna
    html = client.get(f"/admin/shops/{story.shop_id}/carts?q=anna%40example.com").get_data(as_text=True)
    # then only the first shop's cart is listed
    assert re.findall(r"/carts/(\d+)\"", html) == [str(mine)] and mine != theirs
    assert len(listed(client, story.shop_id)) == 4
