"""Unsubscribe links and RFC 8058 one-click unsubscribe: where every reminder's opt-out leads.

Every reminder carries ``{PUBLIC_URL}/u/<token>?lang=<its language>``
(``bridge.contacts.unsubscribe_url``) in its body and in ``List-Unsubscribe``, with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``.

- ``GET /u/<token>``: a confirmation page with one button. GET never changes anything:
  mail scanners (Microsoft Safe Links, corporate gateways) fetch every link of a message,
  and an opt-out on GET would unsubscribe people who never clicked
  (https://www.rfc-editor.org/rfc/rfc8058#section-1).
- ``POST /u/<token>``: a body of ``List-Unsubscribe=One-Click`` is the mailbox provider's
  one-click (RFC 8058 section 3.1: no cookies, no redirects followed, so it is answered
  directly); any other POST is the page's button.
- ``POST /u/<token>/resubscribe``: the customer changed their mind.

The token is the shop id and the email hash under a MAC (``bridge.contacts``): it verifies
and names an existing shop, or the answer is a 404 and nothing is stored. A token made for
one shop can never act on another.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from flask import Blueprint, Response, current_app, render_template, request, url_for
from sqlalchemy.orm import Session

from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop
from bridge.services import optouts
from bridge.services.optouts import ContactRef
from bridge.templating import choose_language
from webhooks.unsubscribe_texts import one_click_text, page_texts

log = logging.getLogger(__name__)
blueprint = Blueprint("unsubscribe", __name__, url_prefix="/u", template_folder="templates")

# The token is in the URL: never cache the page, never pass the URL on as a Referer, never
# index it. The page needs nothing but its inline style and a form posting back to us.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}
# What a mailbox provider POSTs (https://www.rfc-editor.org/rfc/rfc8058#section-3.1), as
# application/x-www-form-urlencoded or multipart/form-data: both land in ``request.form``.
ONE_CLICK_FIELD, ONE_CLICK_VALUE = "List-Unsubscribe", "One-Click"
# The page shown -> where its single button posts (pages without one are absent).
BUTTONS = {"confirm": "unsubscribe.unsubscribe", "already": "unsubscribe.resubscribe",
           "done": "unsubscribe.resubscribe"}


@dataclass(frozen=True)
class Link:
    """A verified unsubscribe link, as the pages need it."""
    token: str
    shop_id: int
    shop_name: str
    language: str
    contact: ContactRef
    opted_out: bool          # before this request's action


Action = Callable[[Session, Link, datetime], object]


@blueprint.after_request
def _private(response: Response) -> Response:
    response.headers.update(PRIVATE_HEADERS)
    return response


@blueprint.get("/<token>")
def confirm(token: str):
    link = _open(token, _nothing)
    if link is None:
        return _invalid()
    return _page("already" if link.opted_out else "confirm", link)


@blueprint.post("/<token>")
def unsubscribe(token: str):
    source = "one_click" if request.form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE else "link"
    link = _open(token, _opting_out(source))
    if link is None:
        return _invalid()
    return ANSWERS[source](link)


@blueprint.post("/<token>/resubscribe")
def resubscribe(token: str):
    link = _open(token, _resubscribing)
    if link is None:
        return _invalid()
    return _page("resubscribed", link)


def _open(token: str, action: Action) -> Link | None:
    """Verify the token, find its shop and run ``action`` in one transaction; None: not valid."""
    runtime = current_app.extensions["cartbridge"]
    found = runtime.contacts().read_token(token)
    if found is None:
        return None
    shop_id, email_hash = found
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        if shop is None:   # a genuine token of a shop since deleted (shop/redact)
            return None
        contact = ContactRef(email_hash=email_hash)
        link = Link(token, shop.id, shop.name, choose_language(request.args.get("lang"), shop.language),
                    contact, optouts.is_opted_out(session, shop.id, contact))
        action(session, link, runtime.now())
    return link


def _nothing(session: Session, link: Link, now: datetime) -> None:
    return None


def _opting_out(source: str) -> Action:
    # opt_out widens to the phone from the contact's carts, stops every open step of every
    # cart of the contact in this shop, and logs shop_id + code (never the contact).
    return lambda session, link, now: optouts.opt_out(session, link.shop_id, link.contact, source=source,
                                                      by="customer", now=now)


def _resubscribing(session: Session, link: Link, now: datetime) -> int:
    return optouts.resubscribe(session, link.shop_id, link.contact, by="customer", now=now)


def _page(page: str, link: Link):
    endpoint = BUTTONS.get(page)
    action = url_for(endpoint, token=link.token, lang=link.language) if endpoint else None
    return render_template("unsubscribe.html", language=link.language, action=action,
                           text=page_texts(link.language, page, link.shop_name))


def _one_click(link: Link):
    # The provider only needs a 2xx; the body is for a human reading a log of it.
    return Response(one_click_text(link.language), 200, mimetype="text/plain")


ANSWERS: dict[str, Callable[[Link], object]] = {"one_click": _one_click, "link": lambda link: _page("done", link)}


def _invalid():
    """Forged, mangled or outdated: a 404 in the language the link asked for, nothing stored."""
    log.info("unsubscribe link rejected", extra={"code": "unsubscribe_invalid_link", "status": 404})
    language = choose_language(request.args.get("lang"), None)
    return render_template("unsubscribe.html", language=language, action=None,
                           text=page_texts(language, "invalid")), 404
