"""The committed shopify.app.toml is the rendering of `cartbridge shopify toml` for the example URL,
and it subscribes to exactly the connector's webhook topics plus the three compliance topics."""
from __future__ import annotations

import tomllib
from pathlib import Path

from click.testing import CliRunner

from bridge.cli_install import CLIENT_ID_PLACEHOLDER, EXAMPLE_URL, render_app_toml, shopify_toml
from connectors.shopify import CONNECTOR

COMMITTED = Path(__file__).resolve().parents[2] / "shopify.app.toml"
COMPLIANCE = {"customers/data_request", "customers/redact", "shop/redact"}


def test_the_committed_file_is_the_rendering_for_the_example_url():
    # given the template rendered for https://cartbridge.example.com with the placeholder client id
    rendered = render_app_toml(EXAMPLE_URL, CLIENT_ID_PLACEHOLDER)
    # then the committed file is exactly that (regenerate it with `cartbridge shopify toml`)
    assert COMMITTED.read_text() == rendered


def test_the_file_subscribes_to_the_connectors_topics_and_the_compliance_topics_only():
    # given the committed configuration
    config = tomllib.loads(COMMITTED.read_text())
    subscriptions = config["webhooks"]["subscriptions"]
    # then its topics are the connector's, its compliance topics the mandatory three, all to our endpoint
    topics = {topic for sub in subscriptions for topic in sub.get("topics", ())}
    compliance = {topic for sub in subscriptions for topic in sub.get("compliance_topics", ())}
    assert topics == set(CONNECTOR.webhook_topics)
    assert compliance == COMPLIANCE
    assert {sub["uri"] for sub in subscriptions} == {f"{EXAMPLE_URL}/webhooks/shopify"}


def test_the_app_is_embedded_installed_by_shopify_with_three_scopes_and_our_callback():
    config = tomllib.loads(COMMITTED.read_text())
    assert config["embedded"] is True and config["application_url"] == f"{EXAMPLE_URL}/admin/"
    assert config["access_scopes"] == {"scopes": "read_orders,write_discounts,read_customers",
                                       "use_legacy_install_flow": False}
    assert config["auth"]["redirect_urls"] == [f"{EXAMPLE_URL}/admin/shopify/callback"]
    assert config["webhooks"]["api_version"] == "2026-10"


def test_the_command_renders_for_public_url_and_the_client_id():
    # when the command runs for another deployment
    result = CliRunner().invoke(shopify_toml, ["--client-id", "abc123"],
                                env={"PUBLIC_URL": "https://bridge.agency.example/"})
    # then it prints valid TOML naming that deployment's URLs and client id
    assert result.exit_code == 0, result.output
    config = tomllib.loads(result.output)
    assert config["client_id"] == "abc123"
    assert config["application_url"] == "https://bridge.agency.example/admin/"
    assert config["auth"]["redirect_urls"] == ["https://bridge.agency.example/admin/shopify/callback"]


def test_the_command_refuses_a_plain_http_url():
    result = CliRunner().invoke(shopify_toml, [], env={"PUBLIC_URL": "http://127.0.0.1:8000"})
    assert result.exit_code != 0 and "https://" in result.output
