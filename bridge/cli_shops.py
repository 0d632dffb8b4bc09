"""CLI for agencies: shops, their config (export/import), and the dev outbox."""
from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from bridge.cli import _runtime, cli
from bridge.db.engine import unit_of_work
from bridge.db.tables import OutboxEntry, Shop
from bridge.services.shops import ConfigError, create_shop, export_config, find_shop, import_config


@cli.group()
def shops() -> None:
    """Connect and list shops."""


@shops.group("add")
def shops_add() -> None:
    """Connect a shop (prints its id and the webhook URL to register)."""


@shops_add.command("shopify")
@click.option("--domain", required=True, help="the shop's myshopify.com domain")
@click.option("--access-token", default=None, help="Admin API token (stored encrypted)")
@click.option("--name", default=None)
def add_shopify(domain: str, access_token: str | None, name: str | None) -> None:
    domain = domain.strip().lower()
    if not domain.endswith(".myshopify.com"):
        raise click.BadParameter("must be the shop's *.myshopify.com domain", param_hint="--domain")
    runtime = _runtime()
    shop = _add(runtime, platform="shopify", domain=domain, name=name or domain.split(".")[0],
                access_token=access_token)
    click.echo(f"shop {shop.id} added; webhook URL: {runtime.settings.public_url}/webhooks/shopify")


@shops_add.command("woocommerce")
@click.option("--url", required=True, help="the store's site URL, https://...")
@click.option("--consumer-key", required=True)
@click.option("--consumer-secret", required=True)
@click.option("--webhook-secret", required=True, help="the secret you will give WooCommerce's webhooks")
@click.option("--name", default=None)
def add_woocommerce(url: str, consumer_key: str, consumer_secret: str, webhook_secret: str,
                    name: str | None) -> None:
    url = url.strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise click.BadParameter("must start with https:// (or http:// for a local test store)", param_hint="--url")
    runtime = _runtime()
    shop = _add(runtime, platform="woocommerce", domain=url, name=name or url.split("//", 1)[1],
                consumer_key=consumer_key, consumer_secret=consumer_secret, webhook_secret=webhook_secret)
    click.echo(f"shop {shop.id} added; webhook URL: {runtime.settings.public_url}/webhooks/woocommerce/{shop.id}")


def _add(runtime, **fields) -> Shop:
    with unit_of_work(runtime.sessions) as session:
        if session.scalars(select(Shop).where(Shop.platform == fields["platform"],
                                              Shop.domain == fields["domain"])).first():
            raise click.ClickException(f"{fields['domain']} is already connected")
        return create_shop(session, runtime.box, now=runtime.now(), **fields)


@shops.command("list")
def shops_list() -> None:
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        for shop in session.scalars(select(Shop).order_by(Shop.id)):
            click.echo(f"{shop.id}\t{shop.platform}\t{shop.domain}\t{shop.status}\t{shop.name}")


@cli.group()
def config() -> None:
    """Copy a shop's sequence and templates between shops (JSON, no secrets)."""


@config.command("export")
@click.argument("shop_ref")
def config_export(shop_ref: str) -> None:
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        click.echo(json.dumps(export_config(session, _shop(session, shop_ref)), indent=2, ensure_ascii=False))


@config.command("import")
@click.argument("shop_ref")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def config_import(shop_ref: str, file: Path) -> None:
    runtime = _runtime()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file}: not valid JSON ({exc})") from None
    try:
        with unit_of_work(runtime.sessions) as session:
            import_config(session, _shop(session, shop_ref), data, runtime.now())
    except ConfigError as exc:
        raise click.ClickException("config rejected, nothing changed:\n" +
                                   "\n".join(f"  {f}: {r}" for f, r in exc.errors)) from None
    click.echo(f"config imported into {shop_ref}")


@cli.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--full", is_flag=True, help="print the text part of each message")
def outbox(limit: int, full: bool) -> None:
    """Show the newest messages in the dev outbox."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        rows = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id.desc()).limit(limit)).all()
        for row in rows:
            click.echo(f"#{row.id} {row.created_at:%Y-%m-%d %H:%M:%S} shop {row.shop_id} to {row.to_email}: "
                       f"{row.subject}")
            if full:
                click.echo(row.text + "\n")
        if not rows:
            click.echo("outbox is empty")


def _shop(session, ref: str) -> Shop:
    shop = find_shop(session, ref)
    if shop is None:
        raise click.ClickException(f"no shop {ref!r} (give its id or domain; see `cartbridge shops list`)")
    return shop
