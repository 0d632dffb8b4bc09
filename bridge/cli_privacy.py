"""CLI for privacy requests that reach the merchant directly (an email to the shop rather
than a Shopify webhook), opt-outs the merchant manages, and the retention purge:
``cartbridge privacy``, ``cartbridge optouts``, ``cartbridge purge``.

Exports go to stdout (or ``--out``) as JSON, with notes on stderr, so the output pipes
straight into a file. Every export and erasure is recorded as a privacy request
(source ``cli``), like the ones Shopify sends.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from bridge.cli import _runtime, cli
from bridge.cli_shops import _shop
from bridge.contacts import normalize_email, normalize_phone
from bridge.db.engine import unit_of_work
from bridge.db.tables import OptOut, PrivacyRequest
from bridge.services.optouts import ContactRef, opt_out, resubscribe
from bridge.services.privacy import erase_contact, export_contact, record_request
from bridge.services.retention import purge_committing


@cli.group()
def privacy() -> None:
    """A customer's data: export it, erase it, and the requests so far."""


@privacy.command("export")
@click.argument("shop_ref")
@click.argument("email")
@click.option("--phone", default=None, help="the customer's phone, when their carts may carry only that")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="write the JSON here")
def privacy_export(shop_ref: str, email: str, phone: str | None, out: Path | None) -> None:
    """Everything held about a customer in the shop, as JSON."""
    runtime = _runtime()
    ref = _person(runtime, email, phone)
    with unit_of_work(runtime.sessions) as session:
        shop = _shop(session, shop_ref)
        export = export_contact(session, shop, ref)
        request = record_request(session, shop.id, "export", "cli", ref, export, runtime.now())
    text = json.dumps(export, indent=2, ensure_ascii=False)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
    click.echo(f"recorded as privacy request {request.id}" + (f"; written to {out}" if out else ""), err=True)


@privacy.command("erase")
@click.argument("shop_ref")
@click.argument("email")
@click.option("--phone", default=None, help="the customer's phone, when their carts may carry only that")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def privacy_erase(shop_ref: str, email: str, phone: str | None, yes: bool) -> None:
    """Erase a customer's personal data in the shop (their opt-out stays, as a hash)."""
    runtime = _runtime()
    ref = _person(runtime, email, phone)
    with unit_of_work(runtime.sessions) as session:
        shop_id = _shop(session, shop_ref).id
    # Asked outside any transaction: SQLite's write lock must not wait on a person typing.
    if not yes:
        click.confirm(f"Erase the personal data of {email} in shop {shop_id}? This cannot be undone", abort=True)
    with unit_of_work(runtime.sessions) as session:
        shop = _shop(session, str(shop_id))
        counts = erase_contact(session, shop, ref, runtime.now())
        request = record_request(session, shop.id, "erase", "cli", ref, counts, runtime.now())
    click.echo(f"erased (privacy request {request.id}): " + ", ".join(f"{name} {n}" for name, n in counts.items()))


@privacy.command("requests")
@click.argument("shop_ref")
def privacy_requests(shop_ref: str) -> None:
    """The shop's privacy requests: id, kind, source, reference, date."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        shop = _shop(session, shop_ref)
        rows = session.scalars(select(PrivacyRequest).where(PrivacyRequest.shop_id == shop.id)
                               .order_by(PrivacyRequest.id)).all()
    for row in rows:
        click.echo(f"{row.id}\t{row.kind}\t{row.source}\t{row.reference or '-'}\t{row.created_at:%Y-%m-%d %H:%M}")
    if not rows:
        click.echo("no privacy requests")


@privacy.command("show")
@click.argument("request_id", type=int)
def privacy_show(request_id: int) -> None:
    """What a request holds: the export's JSON, or an erasure's counts."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        request = session.get(PrivacyRequest, request_id)
    if request is None:
        raise click.ClickException(f"no privacy request {request_id}")
    if request.result is None:
        raise click.ClickException(f"privacy request {request_id} holds no data any more (the customer was erased)")
    click.echo(json.dumps(request.result, indent=2, ensure_ascii=False))


@cli.group()
def optouts() -> None:
    """Contacts the shop must never remind."""


@optouts.command("list")
@click.argument("shop_ref")
@click.option("--all", "show_all", is_flag=True, help="include opt-outs that were lifted")
def optouts_list(shop_ref: str, show_all: bool) -> None:
    """Contact (or "(erased)"), kind, source, active or lifted, when added, when lifted."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        query = select(OptOut).where(OptOut.shop_id == _shop(session, shop_ref).id)
        rows = session.scalars(query.where(OptOut.active.is_(True)) if not show_all else query).all()
    for row in sorted(rows, key=lambda r: r.id):
        removed = f"{row.removed_at:%Y-%m-%d %H:%M}" if row.removed_at else "-"
        click.echo(f"{row.display or '(erased)'}\t{row.kind}\t{row.source}\t{'active' if row.active else 'lifted'}"
                   f"\t{row.created_at:%Y-%m-%d %H:%M}\t{removed}")
    if not rows:
        click.echo("no opt-outs")


@optouts.command("add")
@click.argument("shop_ref")
@click.argument("contact")
@click.option("--reason", default=None)
def optouts_add(shop_ref: str, contact: str, reason: str | None) -> None:
    """Opt a contact out (an email or a phone number); their pending reminders stop at once."""
    runtime = _runtime()
    ref = _contact(runtime, contact)
    with unit_of_work(runtime.sessions) as session:
        stopped = opt_out(session, _shop(session, shop_ref).id, ref, source="merchant", now=runtime.now(),
                          by="cli", reason=reason)
    click.echo(f"opted out; {stopped} pending reminder(s) stopped")


@optouts.command("remove")
@click.argument("shop_ref")
@click.argument("contact")
def optouts_remove(shop_ref: str, contact: str) -> None:
    """Lift a contact's opt-out: their future carts get reminders again."""
    runtime = _runtime()
    ref = _contact(runtime, contact)
    with unit_of_work(runtime.sessions) as session:
        lifted = resubscribe(session, _shop(session, shop_ref).id, ref, by="cli", now=runtime.now())
    click.echo(f"{lifted} opt-out(s) lifted")


@cli.command("purge")
@click.option("--days", type=click.IntRange(min=1), default=None, help="keep this many days [RETENTION_DAYS]")
def purge_command(days: int | None) -> None:
    """Delete what is past retention now (the worker also does it once a day)."""
    runtime = _runtime()
    counts = purge_committing(runtime.sessions, runtime.now(), days or runtime.settings.retention_days)
    click.echo("deleted: " + ", ".join(f"{name} {n}" for name, n in counts.items()))


def _person(runtime, email: str, phone: str | None) -> ContactRef:
    if normalize_email(email) is None:
        raise click.BadParameter("not an email address", param_hint="EMAIL")
    if phone is not None and normalize_phone(phone) is None:
        raise click.BadParameter("not a phone number", param_hint="--phone")
    return ContactRef.of(runtime.contacts(), email, phone)


def _contact(runtime, contact: str) -> ContactRef:
    """An email when it has an @, else a phone number."""
    if "@" in contact:
        return _person(runtime, contact, None)
    if normalize_phone(contact) is None:
        raise click.BadParameter("neither an email address nor a phone number", param_hint="CONTACT")
    return ContactRef.of(runtime.contacts(), None, contact)
