"""``cartbridge shopify toml``: the Shopify app configuration (``shopify.app.toml``) for this deployment.

One template, rendered for ``PUBLIC_URL`` and the app's client id; the committed
``shopify.app.toml`` is its rendering for ``https://cartbridge.example.com`` (a unit test
keeps the two equal). ``shopify app deploy`` pushes it to Shopify, which then installs the
app itself (Shopify-managed install: no redirect through our server, scopes granted from
this file) and keeps the app-specific webhook subscriptions listed here for every shop.
https://shopify.dev/docs/apps/build/cli-for-apps/app-configuration
https://shopify.dev/docs/apps/build/authentication-authorization/app-installation
"""
from __future__ import annotations

import json

import click

from bridge.cli import cli
from bridge.settings import Settings

EXAMPLE_URL = "https://cartbridge.example.com"
CLIENT_ID_PLACEHOLDER = "YOUR_SHOPIFY_CLIENT_ID"
APP_NAME = "cartbridge"
# What reminders need: checkouts and orders (read_orders), codes (write_discounts), the
# customer's name and consent (read_customers). Email and phone also need protected customer
# data approval (Level 2) in the Partner Dashboard; no scope grants that.
SCOPES = "read_orders,write_discounts,read_customers"
# Mandatory for App Store apps; they cannot be subscribed through the Admin API, only here.
# https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")

# Two subscription tables with the same uri: the CLI has refused one table holding both
# ``topics`` and ``compliance_topics`` (https://github.com/Shopify/cli/issues/5505).
TEMPLATE = """\
# Shopify app configuration for cartbridge, rendered by `cartbridge shopify toml` for PUBLIC_URL.
# Deploy it with `shopify app deploy`. Reference:
# https://shopify.dev/docs/apps/build/cli-for-apps/app-configuration
client_id = {client_id}
name = {name}
application_url = {application_url}
embedded = true

[access_scopes]
# Shopify-managed install: Shopify grants these scopes itself; the app home then swaps the
# App Bridge session token for an expiring offline token (token exchange).
scopes = {scopes}
use_legacy_install_flow = false

[auth]
# The authorization-code install (deployments that do not use the managed flow).
redirect_urls = [{redirect_url}]

[webhooks]
api_version = {api_version}

[[webhooks.subscriptions]]
topics = [
{topics}
]
uri = {webhook_uri}

[[webhooks.subscriptions]]
compliance_topics = [{compliance_topics}]
uri = {webhook_uri}
"""


def _quoted(text: str) -> str:
    """A TOML basic string (JSON's escaping is TOML's for these plain values)."""
    return json.dumps(text)


def _listed(items) -> str:
    return ", ".join(_quoted(item) for item in items)


def _lines(items) -> str:
    """One array item per line (TOML arrays may span lines; a trailing comma is allowed)."""
    return "\n".join(f"  {_quoted(item)}," for item in items)


def webhook_topics() -> list[str]:
    """The Shopify connector's topics, in a stable order."""
    from connectors.shopify import CONNECTOR
    return sorted(CONNECTOR.webhook_topics)


def render_app_toml(public_url: str, client_id: str = CLIENT_ID_PLACEHOLDER,
                    api_version: str = Settings.shopify_api_version) -> str:
    base = public_url.rstrip("/")
    return TEMPLATE.format(
        client_id=_quoted(client_id), name=_quoted(APP_NAME), application_url=_quoted(f"{base}/admin/"),
        scopes=_quoted(SCOPES), redirect_url=_quoted(f"{base}/admin/shopify/callback"),
        api_version=_quoted(api_version), topics=_lines(webhook_topics()),
        compliance_topics=_listed(COMPLIANCE_TOPICS), webhook_uri=_quoted(f"{base}/webhooks/shopify"))


@cli.group()
def shopify() -> None:
    """The Shopify app: its configuration file."""


@shopify.command("toml")
@click.option("--client-id", envvar="SHOPIFY_API_KEY", default=CLIENT_ID_PLACEHOLDER, show_default=True,
              help="the app's client id (default: SHOPIFY_API_KEY)")
@click.option("--public-url", envvar="PUBLIC_URL", required=True,
              help="where this cartbridge is reached (default: PUBLIC_URL)")
@click.option("--api-version", envvar="SHOPIFY_API_VERSION", default=Settings.shopify_api_version,
              show_default=True, help="webhook payload version (default: SHOPIFY_API_VERSION)")
def shopify_toml(client_id: str, public_url: str, api_version: str) -> None:
    """Print shopify.app.toml for this deployment (redirect it into the file, then `shopify app deploy`)."""
    if not public_url.startswith("https://"):
        # Shopify accepts only https application, redirect and webhook URLs.
        raise click.BadParameter("must be an https:// URL (Shopify calls only https)", param_hint="PUBLIC_URL")
    click.echo(render_app_toml(public_url, client_id, api_version), nl=False)
