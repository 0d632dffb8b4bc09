"""CLI: a shop's discount health (`shops status`) and releasing steps held by a refusal."""
from __future__ import annotations

import click

from bridge.cli import _runtime
from bridge.cli_shops import _shop, shops
from bridge.db.engine import unit_of_work
from bridge.services.shop_status import release_held, shop_status


@shops.command("status")
@click.argument("shop_ref")
def shops_status(shop_ref: str) -> None:
    """Sequence, discount settings, codes by status, and the platform's last refusal."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        status = shop_status(session, _shop(session, shop_ref))
    click.echo(status["shop"])
    for line in status["steps"]:
        click.echo("  " + line)
    expiry = status["expiry_reminder_hours"]
    click.echo(f"  code expires soon reminder: {f'{expiry} h before expiry' if expiry else 'off'}")
    click.echo(f"  when the platform refuses a code: "
               f"{'send without a discount' if status['send_without_discount'] else 'hold the step'}")
    codes = ", ".join(f"{n} {s}" for s, n in sorted(status["codes"].items())) or "none yet"
    click.echo(f"  discount codes: {codes}")
    if status["discount_error"]:
        click.echo(f"  last refusal ({status['discount_error_at']:%Y-%m-%d %H:%M} UTC): {status['discount_error']}")
    for line in status["manners"]:
        click.echo("  " + line)
    click.echo(f"  opted-out contacts: {status['opted_out']}")
    if status["waiting_steps"]:
        click.echo(f"  {status['waiting_steps']} reminder(s) postponed by quiet hours, the frequency cap "
                   f"or an unanswered order check")
    if status["held_steps"]:
        click.echo(f"  {status['held_steps']} reminder(s) held; fix the cause, then "
                   f"`cartbridge shops release {shop_ref}`")


@shops.command("release")
@click.argument("shop_ref")
def shops_release(shop_ref: str) -> None:
    """Retry the reminders held because the platform refused their code or its order check."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        count = release_held(session, _shop(session, shop_ref), runtime.now())
    click.echo(f"{count} held reminder(s) released")
