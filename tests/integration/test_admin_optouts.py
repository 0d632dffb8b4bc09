"""The Opt-outs admin page: list, search, add, remove and export a shop's opt-outs, through
the real app and a signed-in test client, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, OptOut, ReminderStep
from bridge.services.optout_browser import csv_lines
from bridge.services.optouts import ContactRef, is_opted_out
from tests.support.admin import add_user, session_token, sign_in
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop
from tests.support.story import seed_story

OWNER = "owner@example.com"


def _signed_in(runtime, client, *shop_ids) -> str:
    add_user(runtime, OWNER, shop_ids=shop_ids)
    return sign_in(client, OWNER)


def _add(client, shop_id: int, csrf: str, contact: str, reason: str = ""):
    return client.post(f"/admin/shops/{shop_id}/optouts", data={"csrf_token": csrf, "contact": contact,
                                                               "reason": reason})


def _rows(runtime, shop_id: int) -> list[OptOut]:
    with runtime.sessions() as db:
        return list(db.scalars(select(OptOut).where(OptOut.shop_id == shop_id).order_by(OptOut.id)))


def _insert(runtime, shop_id: int, display: str | None, contact_hash: str, *, active: bool = True,
            source: str = "link") -> int:
    with unit_of_work(runtime.sessions) as db:
        row = OptOut(shop_id=shop_id, contact_hash=contact_hash, kind="email", display=display, active=active,
                     source=source, created_at=runtime.now(), created_by="customer")
        db.add(row)
        db.flush()
        return row.id


def _steps_of(runtime, shop_id: int, email: str) -> list[ReminderStep]:
    email_hash = runtime.contacts().email_hash(email)
    with runtime.sessions() as db:
        cart_ids = db.scalars(select(Cart.id).where(Cart.shop_id == shop_id, Cart.email_hash == email_hash))
        return list(db.scalars(select(ReminderStep).where(ReminderStep.cart_id.in_(list(cart_ids)))))


def test_adding_an_opt_out_lists_it_with_who_and_when_and_stops_pending_steps(runtime, client, clock):
    # given dmytro, abandoned and still waiting for a reminder
    story = seed_story(runtime, client, clock)
    csrf = _signed_in(runtime, client, story.shop_id)
    assert any(s.status == "pending" for s in _steps_of(runtime, story.shop_id, "dmytro@example.com"))
    # when the merchant opts him out with a reason
    response = _add(client, story.shop_id, csrf, "  Dmytro@Example.com ", "asked by phone")
    # then the page lists him with who added him, when, and why
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Opt-out added." in page and "dmytro@example.com" in page and "asked by phone" in page
    assert f"by {OWNER}" in page and clock().strftime("%b %-d, %Y") in page and "Added by the shop" in page
    # and none of his steps is left to send
    assert all(s.status not in ("pending", "claimed", "held") for s in _steps_of(runtime, story.shop_id,
                                                                                   "dmytro@example.com"))
    [row] = _rows(runtime, story.shop_id)
    assert (row.source, row.created_by, row.created_at) == ("merchant", OWNER, clock())


def test_adding_the_same_address_twice_keeps_one_row(runtime, client):
    # given a shop and an address already opted out
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    _add(client, shop_id, csrf, "anna@example.com", "first")
    # when it is added again
    response = _add(client, shop_id, csrf, "ANNA@example.com", "second")
    # then there is still one row, with the first reason
    assert response.status_code == 303
    [row] = _rows(runtime, shop_id)
    assert (row.display, row.reason, row.active) == ("anna@example.com", "first", True)


def test_search_finds_an_exact_address_by_hash_and_a_part_of_one_by_text(runtime, client):
    # given two opt-outs and one of an erased customer (no address shown, only its hash)
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    _add(client, shop_id, csrf, "anna@example.com")
    _add(client, shop_id, csrf, "boris@shop.test")
    _insert(runtime, shop_id, None, runtime.contacts().email_hash("gone@example.com"))
    # when searching the erased customer's exact email
    exact = client.get(f"/admin/shops/{shop_id}/optouts?q=Gone@Example.com").get_data(as_text=True)
    # then only that row shows, as an erased customer
    assert "erased customer" in exact and "anna@example.com" not in exact and "boris@shop.test" not in exact
    # when searching part of an address, in another case
    partial = client.get(f"/admin/shops/{shop_id}/optouts?q=SHOP.T").get_data(as_text=True)
    # then only the matching row shows
    assert "boris@shop.test" in partial and "anna@example.com" not in partial
    assert "erased customer" not in partial


def test_removing_asks_first_then_shows_the_row_as_removed_with_who_and_when(runtime, client, clock):
    # given an opt-out added an hour ago
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    _add(client, shop_id, csrf, "anna@example.com")
    [row] = _rows(runtime, shop_id)
    clock.advance(hours=1)
    # when the merchant presses Remove
    asked = client.post(f"/admin/shops/{shop_id}/optouts/remove", data={"csrf_token": csrf, "optout_id": row.id})
    # then a confirmation is asked and nothing changes yet
    assert asked.status_code == 200 and "Remove this opt-out?" in asked.get_data(as_text=True)
    assert _rows(runtime, shop_id)[0].active
    # when confirmed
    done = client.post(f"/admin/shops/{shop_id}/optouts/remove",
                       data={"csrf_token": csrf, "optout_id": row.id, "confirm": "yes"})
    # then the row stays, shown as removed by the owner, and the contact may be reminded again
    assert done.status_code == 303
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Opt-out removed." in page and "removed" in page and page.count(f"by {OWNER}") == 2
    [lifted] = _rows(runtime, shop_id)
    assert (lifted.active, lifted.removed_by, lifted.removed_at) == (False, OWNER, clock())
    with runtime.sessions() as db:
        assert not is_opted_out(db, shop_id, ContactRef.of(runtime.contacts(), "anna@example.com"))
    # and the default "active" view no longer lists it, the "removed" one does
    assert "anna@example.com" not in client.get(f"/admin/shops/{shop_id}/optouts").get_data(as_text=True)
    assert "anna@example.com" in client.get(f"/admin/shops/{shop_id}/optouts?status=removed").get_data(as_text=True)


def test_the_csv_holds_every_row_and_defuses_formulas(runtime, client):
    # given an active opt-out, a removed one whose display starts with "=", and an erased one
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    _add(client, shop_id, csrf, "anna@example.com", "+1 complaint")
    _insert(runtime, shop_id, "=HYPERLINK(\"http://evil\")@x.com", "f" * 64, active=False)
    _insert(runtime, shop_id, None, "e" * 64)
    # when exporting
    response = client.get(f"/admin/shops/{shop_id}/optouts.csv")
    # then it is an attachment named for the shop and today, with every row
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=optouts-cartbridge-test.myshopify.com-2026-11-23.csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == ["contact", "kind", "active", "source", "reason", "created_at", "created_by",
                             "removed_at", "removed_by"]
    assert [(r["contact"], r["active"]) for r in rows] == [
        ("anna@example.com", "yes"), ("'=HYPERLINK(\"http://evil\")@x.com", "no"), ("(erased)", "yes")]
    assert rows[0]["reason"] == "'+1 complaint" and rows[0]["created_by"] == OWNER
    assert rows[0]["created_at"] == "2026-11-23T10:00:00+00:00" and rows[0]["removed_at"] == ""


def test_a_bad_address_is_refused_with_the_reason_and_the_typed_text_kept(runtime, client):
    # given a signed-in owner
    shop_id = add_shopify_shop(runtime)
    csrf = _signed_in(runtime, client, shop_id)
    # when adding something that is neither an email nor a phone, or a broken email
    words = _add(client, shop_id, csrf, "call me maybe", "typed reason")
    broken = _add(client, shop_id, csrf, "anna@")
    # then each is refused, the field named with its reason, what was typed kept, nothing stored
    assert words.status_code == 422 and broken.status_code == 422
    page = words.get_data(as_text=True)
    assert "Email or phone is neither an email address nor a phone number" in page
    assert 'value="call me maybe"' in page and 'value="typed reason"' in page
    assert "is not an email address" in broken.get_data(as_text=True)
    assert _rows(runtime, shop_id) == []


def test_another_shops_opt_outs_are_never_listed_searched_removed_or_exported(runtime, client):
    # given shop A (the owner's) and shop B with an opt-out
    shop_a = add_shopify_shop(runtime)
    shop_b = add_shopify_shop(runtime, "other-shop.myshopify.com")
    csrf = _signed_in(runtime, client, shop_a)
    other = _insert(runtime, shop_b, "secret@other.com", runtime.contacts().email_hash("secret@other.com"))
    # when looking through shop A's page, searching, exporting and removing B's row by id
    listed = client.get(f"/admin/shops/{shop_a}/optouts?status=all").get_data(as_text=True)
    searched = client.get(f"/admin/shops/{shop_a}/optouts?q=secret@other.com").get_data(as_text=True)
    exported = client.get(f"/admin/shops/{shop_a}/optouts.csv").get_data(as_text=True)
    removal = client.post(f"/admin/shops/{shop_a}/optouts/remove",
                          data={"csrf_token": csrf, "optout_id": other, "confirm": "yes"})
    # then B's contact never shows, the removal is a 404, and B's row is untouched
    assert "secret@other.com" not in listed + exported
    assert "<td>secret@other.com" not in searched and "No opt-out matches" in searched
    assert removal.status_code == 404 and _rows(runtime, shop_b)[0].active
    # and shop B's own pages are a 404 for this owner
    assert client.get(f"/admin/shops/{shop_b}/optouts").status_code == 404
    assert client.get(f"/admin/shops/{shop_b}/optouts.csv").status_code == 404


def test_a_post_without_the_csrf_token_is_refused(runtime, client):
    # given a signed-in owner
    shop_id = add_shopify_shop(runtime)
    _signed_in(runtime, client, shop_id)
    # when adding without the form's token
    response = client.post(f"/admin/shops/{shop_id}/optouts", data={"contact": "anna@example.com"})
    # then it is refused and nothing is stored
    assert response.status_code == 400 and _rows(runtime, shop_id) == []


def test_the_list_shows_a_hundred_per_page_newest_first(runtime, client, clock):
    # given 105 opt-outs, a minute apart
    shop_id = add_shopify_shop(runtime)
    _signed_in(runtime, client, shop_id)
    with unit_of_work(runtime.sessions) as db:
        for n in range(105):
            db.add(OptOut(shop_id=shop_id, contact_hash=f"{n:064d}", kind="email", display=f"p{n:03d}@example.com",
                          active=True, source="link", created_at=clock() + timedelta(minutes=n)))
    # when opening the first and the second page
    first = client.get(f"/admin/shops/{shop_id}/optouts").get_data(as_text=True)
    second = client.get(f"/admin/shops/{shop_id}/optouts?page=2").get_data(as_text=True)
    # then the first holds the newest hundred, the second the rest
    assert "p104@example.com" in first and "p005@example.com" in first and "p004@example.com" not in first
    assert "Page 1 of 2" in first and "Next" in first
    assert "p004@example.com" in second and "p000@example.com" in second and "p005@example.com" not in second


def test_a_long_viewer_label_is_cut_to_the_column_width(runtime, client):
    # given an owner whose email is longer than the 64 characters "created_by" holds
    shop_id = add_shopify_shop(runtime)
    long_email = "a-very-long-mailbox-name-for-the-shop-owner@" + "x" * 30 + ".example.com"
    add_user(runtime, long_email, shop_ids=[shop_id])
    csrf = sign_in(client, long_email)
    # when they add an opt-out
    response = _add(client, shop_id, csrf, "+380 50 123 45 67")
    # then it is stored as a phone opt-out, by the first 64 characters of their email
    assert response.status_code == 303
    [row] = _rows(runtime, shop_id)
    assert (row.kind, row.created_by) == ("phone", long_email[:64])


def test_embedded_staff_add_an_opt_out_and_export_with_a_session_token(runtime, client):
    # given the shop opened inside the Shopify admin (a session token, no cookie, no CSRF token)
    shop_id = add_shopify_shop(runtime)
    query = f"embedded=1&shop={SHOP_DOMAIN}&host=YWRtaW4"
    # when staff add an opt-out and download the export, each with a fresh token
    added = client.post(f"/admin/shops/{shop_id}/optouts?{query}&id_token={session_token(SHOP_DOMAIN)}",
                        data={"contact": "anna@example.com"})
    exported = client.get(f"/admin/shops/{shop_id}/optouts.csv?{query}&id_token={session_token(SHOP_DOMAIN)}")
    # then the opt-out is recorded as theirs, the redirect keeps the embedded query, and the CSV lists it
    assert added.status_code == 303 and "embedded=1" in added.headers["Location"]
    assert _rows(runtime, shop_id)[0].created_by == f"Shopify staff ({SHOP_DOMAIN})"
    assert exported.status_code == 200 and "anna@example.com,email,yes,merchant" in exported.get_data(as_text=True)


def test_a_large_export_holds_every_row_once_and_never_blocks_writers_midway(runtime, clock):
    # given a shop with 2,345 opt-outs (three batches)
    shop_id = add_shopify_shop(runtime)
    with unit_of_work(runtime.sessions) as db:
        db.add_all(OptOut(shop_id=shop_id, contact_hash=f"{n:064d}", kind="email", display=f"p{n}@example.com",
                          active=True, source="link", created_at=clock()) for n in range(2345))
    # when the export is half read (a slow download)
    chunks = csv_lines(runtime.sessions, shop_id)
    started = next(chunks) + next(chunks)
    # then another writer gets through meanwhile (no transaction is held between batches)
    _insert(runtime, shop_id, "late@example.com", "a" * 64)
    # and the whole file holds every row once
    lines = (started + "".join(chunks)).splitlines()
    contacts = [line.split(",")[0] for line in lines[1:]]
    assert len(contacts) == len(set(contacts)) == 2346 and "p2344@example.com" in contacts
