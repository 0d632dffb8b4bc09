"""The Carts pages: a shop's carts with filters and paging, and one cart's timeline.

Filters travel in the query string (a GET form), so a filtered list can be bookmarked
and reloaded; a bad filter re-renders the form with status 422, the field named and the
typed text kept, and no list.
"""
from __future__ import annotations

from datetime import date

from flask import abort, request

from admin_ui import blueprint
from admin_ui.access import runtime, shop_for_viewer
from admin_ui.forms import Form
from admin_ui.pages import render_page
from bridge.model import CartState
from bridge.money import format_datetime_local, format_money, format_percent
from bridge.services.cart_browser import CartFilters, cart_timeline, find_cart, list_carts

FILTER_FIELDS = ("state", "from", "to", "min", "max", "q")
STATE_OPTIONS = [("", "Any state")] + [(s.value, s.value.title()) for s in CartState]
BADGES = {"recovered": "good", "converted": "good", "abandoned": "warn", "suppressed": "bad", "expired": "bad"}
# The admin page is in English; amounts and times follow English conventions in the
# cart's currency and the shop's time zone.
ADMIN_LOCALE = "en"


@blueprint.route("/shops/<int:shop_id>/carts")
def carts(shop_id: int):
    form = Form.of({name: request.args.get(name, "") for name in FILTER_FIELDS})
    filters = parse_filters(form)
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        listing = list_carts(db, shop.id, filters, _page_number()) if form.ok else None
        return render_page("admin/carts.html", shop=shop, active="carts", status=200 if form.ok else 422,
                           form=form, listing=listing, state_options=STATE_OPTIONS, badges=BADGES,
                           money=_money, when=_when(shop), query=_kept_query(form))


@blueprint.route("/shops/<int:shop_id>/carts/<int:cart_id>")
def carts_detail(shop_id: int, cart_id: int):
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
        cart = find_cart(db, shop.id, cart_id)
        timeline = cart_timeline(db, shop.id, cart_id)
        if cart is None or timeline is None:
            abort(404)
        return render_page("admin/cart.html", shop=shop, active="carts", cart=cart, timeline=timeline,
                           badges=BADGES, money=_money, when=_when(shop), percent=_percent,
                           recovery_url=_web_link(cart.recovery_url))


def parse_filters(form: Form) -> CartFilters:
    """The list's filters from the typed text; each bad field is recorded on ``form``."""
    state = form.get("state").strip()
    if state and state not in {s.value for s in CartState}:
        form.fail("state", f"must be one of the listed states, got {state!r}")
    date_from, date_to = _date(form, "from"), _date(form, "to")
    if date_from and date_to and date_from > date_to:
        form.fail("to", "must be on or after the 'from' date")
    low, high = form.amount("min", required=False), form.amount("max", required=False)
    if low is not None and high is not None and low > high:
        form.fail("max", "must be at least the minimum value")
    search = form.get("q").strip()
    return CartFilters(state=state or None, date_from=date_from, date_to=date_to, min_total=low,
                       max_total=high, search=search, email_hash=runtime().contacts().email_hash(search))


def _date(form: Form, name: str) -> date | None:
    raw = form.get(name).strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        form.fail(name, f"must be a date like 2026-11-23, got {raw!r}")
        return None


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() else 1


def _kept_query(form: Form) -> dict:
    """The filters as typed, for the next/previous links (empty ones left out)."""
    return {name: value for name, value in form.values.items() if value}


def _money(amount, currency: str) -> str:
    return "—" if amount is None else format_money(amount, currency, ADMIN_LOCALE)


def _percent(value) -> str:
    return format_percent(value, ADMIN_LOCALE)


def _when(shop):
    zone = shop.timezone or "UTC"
    return lambda moment: "—" if moment is None else format_datetime_local(moment, ADMIN_LOCALE, zone)


def _web_link(url: str | None) -> str | None:
    """Only http(s) links become links: the URL came from a platform payload."""
    return url if url and url.lower().startswith(("https://", "http://")) else None
