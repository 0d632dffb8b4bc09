"""The Dashboard and the Shops list through the real app: figures made by the test story
(signed webhooks and worker passes), the period switch, empty shops, and who sees what.

The story (tests/support/story.py): anna, boris and dmytro abandon and get step 1; anna
then buys for $98.00 (recovered); boris and dmytro get step 2 a day later; chloe buys
before the idle threshold (converted, never abandoned).
"""
from __future__ import annotations

import re

from tests.support.admin import add_user, sign_in
from tests.support.shops import add_shopify_shop, set_manners
from tests.support.story import seed_story

OTHER_DOMAIN = "other-shop.myshopify.com"


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', html))


def funnel(html: str) -> dict[str, list[str]]:
    table = re.search(r'<table aria-labelledby="funnel-h" id="funnel">(.*?)</table>', html, re.S)
    assert table, "the page has no funnel table"
    rows = re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', table.group(1), re.S)
    return {step: re.findall(r'<td class="num">([^<]*)</td>', cells) for step, cells in rows}


def shop_rows(html: str) -> dict[str, list[str]]:
    table = re.search(r'<table id="shops">(.*?)</table>', html, re.S)
    assert table, "the page has no shops table"
    rows = re.findall(r'<a href="/admin/shops/(\d+)/">[^<]*</a>.*?</th>(.*?)</tr>', table.group(1), re.S)
    return {shop_id: re.findall(r"<td[^>]*>([^<]*)</td>", cells) for shop_id, cells in rows}


def test_dashboard_shows_what_the_story_made(runtime, client, clock):
    # given the story's shop and its owner signed in
    story = seed_story(runtime, client, clock)
    add_user(runtime, shop_ids=[story.shop_id])
    sign_in(client)
    # when the owner opens the dashboard
    page = client.get(f"/admin/shops/{story.shop_id}/")
    html = page.get_data(as_text=True)
    # then the figures are the story's: anna, boris and dmytro abandoned and reminded, anna bought
    assert page.status_code == 200
    assert figures(html) == {"Carts abandoned": "3", "Reminded": "3", "Recovered": "1",
                             "Recovered revenue": "$98.00", "Recovery rate": "33%"}
    # and step 1 went to three carts and got anna's order; step 2 went to boris and dmytro
    steps = funnel(html)
    assert steps["Step 1"] == ["3", "0", "0", "0", "1", "$98.00", "$32.67"]
    assert steps["Step 2"] == ["2", "0", "0", "0", "0", "0", "0"]
    # and the chart is there, with its numbers as a table
    assert 'role="img"' in html and "3 abandoned, 1 recovered" in html
    assert '<a href="/admin/shops/%d/?days=30" aria-current="page"' % story.shop_id in html


def test_the_period_switch_narrows_the_cohort(runtime, client, clock):
    # given the story, ten days ago
    story = seed_story(runtime, client, clock)
    clock.advance(days=10)
    add_user(runtime, shop_ids=[story.shop_id])
    sign_in(client)
    # when the last 7 days are asked for, then the story's carts are outside the period
    week = client.get(f"/admin/shops/{story.shop_id}/?days=7").get_data(as_text=True)
    assert figures(week)["Carts abandoned"] == "0" and figures(week)["Recovery rate"] == "—"
    assert '<a href="/admin/shops/%d/?days=7" aria-current="page"' % story.shop_id in week
    # and the last 90 days hold them; a made-up period falls back to 30 days
    assert figures(client.get(f"/admin/shops/{story.shop_id}/?days=90").get_data(as_text=True))["Recovered"] == "1"
    odd = client.get(f"/admin/shops/{story.shop_id}/?days=12<b>").get_data(as_text=True)
    assert figures(odd)["Carts abandoned"] == "3"
    assert '?days=30" aria-current="page"' in odd


def test_a_shop_without_carts_shows_zeros(runtime, client):
    # given a new shop with no carts at all
    shop_id = add_shopify_shop(runtime)
    add_user(runtime, shop_ids=[shop_id])
    sign_in(client)
    # when its dashboard is opened
    page = client.get(f"/admin/shops/{shop_id}/")
    html = page.get_data(as_text=True)
    # then every figure is zero, the rate is a dash and the chart says so
    assert page.status_code == 200
    assert figures(html) == {"Carts abandoned": "0", "Reminded": "0", "Recovered": "0",
                             "Recovered revenue": "0", "Recovery rate": "—"}
    assert "No carts in this period" in html and "No reminders were sent" in html


def test_a_user_granted_one_shop_sees_nothing_of_another(runtime, client, clock):
    # given shop A's story, shop B's story, and a user granted only shop A
    a = seed_story(runtime, client, clock)
    b = seed_story(runtime, client, clock, domain=OTHER_DOMAIN, prefix="b-")
    add_user(runtime, "a-only@example.com", shop_ids=[a.shop_id])
    sign_in(client, "a-only@example.com")
    # when the user asks for B's dashboard, then it does not exist for them
    assert client.get(f"/admin/shops/{b.shop_id}/").status_code == 404
    # and the shops list has A and nothing of B
    html = client.get("/admin/shops").get_data(as_text=True)
    assert list(shop_rows(html)) == [str(a.shop_id)]
    assert OTHER_DOMAIN not in html and f"/admin/shops/{b.shop_id}/" not in html


def test_an_agency_owner_sees_every_shop_with_its_figures(runtime, client, clock):
    # given two shops, one with the story and one without carts, and an owner of all shops
    a = seed_story(runtime, client, clock)
    empty = add_shopify_shop(runtime, OTHER_DOMAIN)
    add_user(runtime, all_shops=True)
    sign_in(client)
    # when the owner opens the shops list
    html = client.get("/admin/shops").get_data(as_text=True)
    rows = shop_rows(html)
    # then both shops are there side by side, each with its own figures
    assert rows[str(a.shop_id)][:4] == ["3", "1", "$98.00", "33%"]
    assert rows[str(empty)] == ["0", "0", "0", "—", "never"]
    # and the story's shop shows when its last webhook arrived (anna's order, the last one posted)
    assert rows[str(a.shop_id)][4] != "never"
    assert client.get(f"/admin/shops/{empty}/").status_code == 200


def test_days_are_the_shops_own_calendar_days(runtime, client, clock):
    # given the story (carts abandoned at 11:00 UTC on 23 Nov) in a shop in Auckland (UTC+13)
    story = seed_story(runtime, client, clock)
    set_manners(runtime, story.shop_id, timezone="Pacific/Auckland")
    add_user(runtime, shop_ids=[story.shop_id])
    sign_in(client)
    # when the dashboard's table of the chart is read
    html = client.get(f"/admin/shops/{story.shop_id}/?days=7").get_data(as_text=True)
    days = dict((day, (a, r)) for day, a, r in re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td><td class="num">(\d+)</td></tr>', html))
    # then the carts are on 24 Nov, Auckland's day at that moment, and the week ends on Auckland's today
    assert days["24 Nov"] == ("3", "1")
    assert "23 Nov" not in days or days["23 Nov"] == ("0", "0")
    assert list(days)[-1] == "25 Nov" and len(days) == 7
