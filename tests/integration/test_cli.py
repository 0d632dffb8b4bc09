"""The `cartbridge` command as an agency scripts it, on the embedded SQLite instance and on PostgreSQL."""
from __future__ import annotations

import gc
import json
import re
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text

import bridge.cli_shops  # noqa: F401  (registers shops/config/outbox on the group)
from bridge.cli import cli
from bridge.db.engine import make_engine
from bridge.db.migrate import alembic_config
from bridge.db.tables import Shop
from bridge.settings import load_settings
from tests.conftest import BACKENDS, PG_SERVER

SHOPIFY_DOMAIN = "x.myshopify.com"
WOO_URL = "https://s.example"
PUBLIC_URL = "https://bridge.example.com"
ACCESS_TOKEN = "shpat_SECRET_0123456789"
CONSUMER_KEY = "ck_live_consumer_key_4711"
CONSUMER_SECRET = "cs_live_consumer_secret_0815"
WEBHOOK_SECRET = "whs_woo_webhook_secret_2342"
SECRETS = (ACCESS_TOKEN, CONSUMER_KEY, CONSUMER_SECRET, WEBHOOK_SECRET)
SETTINGS_VARIABLES = ("DATABASE_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET",
                      "SHOPIFY_API_SECRET_PREVIOUS", "SENDGRID_API_KEY", "SENDGRID_API_HOST", "MAIL_FROM",
                      "MAIL_FROM_NAME", "PUBLIC_URL", "MAX_WEBHOOK_BYTES", "WORKER_POLL_SECONDS",
                      "CLAIM_SECONDS", "SEND_TIMEOUT_SECONDS", "CARTBRIDGE_INSTANCE")


@dataclass
class Cartbridge:
    """The command line, pointed at one database through the environment."""
    backend: str
    workdir: Path
    database: str | None = None     # the PostgreSQL database's name

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), prog_name="cartbridge")

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.output

    def write_json(self, name: str, content) -> str:
        path = self.workdir / name
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        return str(path)


@pytest.fixture
def restore_signal_handlers():
    """`worker` installs SIGTERM/SIGINT handlers; give pytest its own back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def embedded_environment(tmp_path, monkeypatch) -> Cartbridge:
    """The embedded default: nothing set but an instance folder (and the public URL)."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUBLIC_URL", PUBLIC_URL + "/")
    monkeypatch.setenv("CARTBRIDGE_INSTANCE", str(tmp_path / "instance"))
    return Cartbridge("sqlite", tmp_path)


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    return embedded_environment(tmp_path, monkeypatch)


@pytest.fixture(params=BACKENDS)
def cartbridge(request, tmp_path, monkeypatch):
    embedded_cartbridge = embedded_environment(tmp_path, monkeypatch)
    if request.param == "sqlite":
        yield embedded_cartbridge
        return
    name = f"cartbridge_cli_{secrets.token_hex(4)}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    server = PG_SERVER.split("://", 1)[1].rsplit("/", 1)[0]
    monkeypatch.setenv("DATABASE_URL", f"postgres://{server}/{name}")   # as Heroku hands it out
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(32))
    monkeypatch.setenv("ENCRYPTION_KEYS", Fernet.generate_key().decode())
    try:
        yield Cartbridge("postgresql", tmp_path, name)
    finally:
        # Collect now, so a connection a command left open is reported by the test that ran it.
        gc.collect()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def upgraded(cartbridge):
    cartbridge.ok("db", "upgrade")
    return cartbridge


def add_shopify(cartbridge: Cartbridge, domain: str = SHOPIFY_DOMAIN) -> int:
    output = cartbridge.ok("shops", "add", "shopify", "--domain", domain, "--access-token", ACCESS_TOKEN)
    return int(re.search(r"shop (\d+) added", output).group(1))


def add_woocommerce(cartbridge: Cartbridge) -> int:
    output = cartbridge.ok("shops", "add", "woocommerce", "--url", WOO_URL, "--consumer-key", CONSUMER_KEY,
                           "--consumer-secret", CONSUMER_SECRET, "--webhook-secret", WEBHOOK_SECRET)
    return int(re.search(r"shop (\d+) added", output).group(1))


def stored_shops() -> list[Shop]:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(Shop).order_by(Shop.id)))
    finally:
        engine.dispose()


# db upgrade

def test_db_upgrade_reports_the_revision_it_reached(cartbridge):
    # given a database nothing has touched
    # when the operator runs the migrations
    output = cartbridge.ok("db", "upgrade")
    # then the command says which revision the database is at: the newest one
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    assert output.strip() == f"database at revision {head}"
    # and running it again on the next deploy is harmless
    assert cartbridge.ok("db", "upgrade").strip() == f"database at revision {head}"


# shops add / list

def test_adding_a_shopify_shop_prints_its_id_and_webhook_url_but_never_the_token(upgraded):
    # given a migrated database
    # when a Shopify shop is added with its Admin API token
    result = upgraded("shops", "add", "shopify", "--domain", SHOPIFY_DOMAIN, "--access-token", ACCESS_TOKEN)
    # then the id and the webhook URL to register are printed, and the token is not
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"shop (\d+) added; webhook URL: {re.escape(PUBLIC_URL)}/webhooks/shopify\n",
                        result.output)
    assert ACCESS_TOKEN not in result.output
    # and the token is stored encrypted, not as plain text
    [shop] = stored_shops()
    assert (shop.platform, shop.domain, shop.name) == ("shopify", SHOPIFY_DOMAIN, "x")
    assert shop.access_token_enc is not None
    assert ACCESS_TOKEN.encode() not in bytes(shop.access_token_enc)


def test_a_domain_outside_myshopify_com_is_refused_naming_the_option(upgraded):
    # given a migrated database
    # when the shop's public domain is given instead of its myshopify.com one
    result = upgraded("shops", "add", "shopify", "--domain", "shop.example.com", "--access-token", ACCESS_TOKEN)
    # then the command fails as a usage error naming --domain, and no shop is stored
    assert result.exit_code == 2
    assert "--domain" in result.output
    assert "myshopify.com" in result.output
    assert stored_shops() == []


def test_adding_the_same_shop_twice_fails_clearly(upgraded):
    # given a connected Shopify shop
    first_id = add_shopify(upgraded)
    # when the same domain is added again, typed differently
    result = upgraded("shops", "add", "shopify", "--domain", " X.MyShopify.com ", "--access-token", "shpat_other")
    # then the command fails saying the shop is already connected, and the first record stands alone
    assert result.exit_code == 1
    assert f"{SHOPIFY_DOMAIN} is already connected" in result.output
    assert [s.id for s in stored_shops()] == [first_id]


def test_adding_a_woocommerce_store_prints_its_own_webhook_url(upgraded):
    # given a migrated database
    # when a WooCommerce store is added with its REST keys and webhook secret
    result = upgraded("shops", "add", "woocommerce", "--url", WOO_URL + "/", "--consumer-key", CONSUMER_KEY,
                      "--consumer-secret", CONSUMER_SECRET, "--webhook-secret", WEBHOOK_SECRET)
    # then the webhook URL carries the shop's id (WooCommerce deliveries do not say which store sent them)
    assert result.exit_code == 0, result.output
    shop_id = int(re.search(r"shop (\d+) added", result.output).group(1))
    assert result.output.endswith(f"webhook URL: {PUBLIC_URL}/webhooks/woocommerce/{shop_id}\n")
    assert not any(secret in result.output for secret in SECRETS)
    [shop] = stored_shops()
    assert (shop.id, shop.platform, shop.domain) == (shop_id, "woocommerce", WOO_URL)
    for secret, stored in ((CONSUMER_KEY, shop.consumer_key_enc), (CONSUMER_SECRET, shop.consumer_secret_enc),
                           (WEBHOOK_SECRET, shop.webhook_secret_enc)):
        assert stored is not None and secret.encode() not in bytes(stored)


def test_shops_list_shows_every_connected_shop(upgraded):
    # given a Shopify shop and a WooCommerce store
    shopify_id = add_shopify(upgraded)
    woo_id = add_woocommerce(upgraded)
    # when the shops are listed
    output = upgraded.ok("shops", "list")
    # then both appear, one per line, in the order they were added, without secrets
    assert output.splitlines() == [f"{shopify_id}\tshopify\t{SHOPIFY_DOMAIN}\tactive\tx",
                                   f"{woo_id}\twoocommerce\t{WOO_URL}\tactive\ts.example"]
    assert not any(secret in output for secret in SECRETS)


# config export / import

def test_config_export_prints_the_sequence_and_no_secret(upgraded):
    # given a Shopify shop and a WooCommerce store, so every kind of shop secret is stored
    add_shopify(upgraded)
    add_woocommerce(upgraded)
    # when the Shopify shop's config is exported
    output = upgraded.ok("config", "export", SHOPIFY_DOMAIN)
    # then it is JSON with the default idle threshold and delays, and holds no shop or app secret
    exported = json.loads(output)
    assert exported["abandon_after_minutes"] == 60
    assert [step["delay_minutes"] for step in exported["steps"]] == [60, 1440, 4320]
    settings = load_settings()
    for secret in (*SECRETS, settings.secret_key, *settings.encryption_keys):
        assert secret not in output


def test_a_config_imported_into_another_shop_exports_the_same(upgraded):
    # given a Shopify shop whose exported sequence is edited: abandon after 15 min, steps at 30/120/600
    add_shopify(upgraded)
    woo_id = add_woocommerce(upgraded)
    edited = json.loads(upgraded.ok("config", "export", SHOPIFY_DOMAIN))
    edited["abandon_after_minutes"] = 15
    for step, delay in zip(edited["steps"], (30, 120, 600)):
        step["delay_minutes"] = delay
    # when the edited file is imported into the WooCommerce store
    output = upgraded.ok("config", "import", str(woo_id), upgraded.write_json("edited.json", edited))
    # then the store exports exactly the edited config
    assert output.strip() == f"config imported into {woo_id}"
    imported = json.loads(upgraded.ok("config", "export", str(woo_id)))
    assert imported["abandon_after_minutes"] == 15
    assert [step["delay_minutes"] for step in imported["steps"]] == [30, 120, 600]
    assert imported == edited
    # and the shop it came from is unchanged
    assert json.loads(upgraded.ok("config", "export", SHOPIFY_DOMAIN))["abandon_after_minutes"] == 60


def test_importing_a_file_that_is_not_json_fails_and_changes_nothing(upgraded):
    # given a WooCommerce store and a broken file
    woo_id = add_woocommerce(upgraded)
    before = upgraded.ok("config", "export", str(woo_id))
    path = upgraded.write_json("broken.json", '{"abandon_after_minutes": 15, "steps": [')
    # when it is imported
    result = upgraded("config", "import", str(woo_id), path)
    # then the command fails saying the file is not valid JSON, and the store's config is untouched
    assert result.exit_code == 1
    assert "not valid JSON" in result.output
    assert upgraded.ok("config", "export", str(woo_id)) == before


def _edit_negative_delay(config: dict) -> None:
    config["steps"][1]["delay_minutes"] = -5


def _edit_missing_steps(config: dict) -> None:
    del config["steps"]


def _edit_abandon_not_a_number(config: dict) -> None:
    config["abandon_after_minutes"] = "soon"


def _edit_window_not_a_number(config: dict) -> None:
    config["order_match_window_minutes"] = "a month"


def _edit_template_without_html(config: dict) -> None:
    config["templates"] = [{"step": 1, "language": "en", "subject": "Still thinking?", "text": "Come back"}]


@pytest.mark.parametrize("edit, field", [
    (_edit_negative_delay, "steps[1].delay_minutes"),
    (_edit_missing_steps, "steps"),
    (_edit_abandon_not_a_number, "abandon_after_minutes"),
    (_edit_window_not_a_number, "order_match_window_minutes"),
    (_edit_template_without_html, "templates[0].html"),
], ids=["negative-delay", "missing-steps", "abandon-not-a-number", "window-not-a-number",
        "template-without-html"])
def test_importing_an_invalid_config_fails_naming_the_field_and_changes_nothing(upgraded, edit, field):
    # given a store's exported config, edited to something usable (language, threshold) plus one mistake
    woo_id = add_woocommerce(upgraded)
    before = upgraded.ok("config", "export", str(woo_id))
    config = json.loads(before)
    config["language"] = "de"
    config["abandon_after_minutes"] = 15
    edit(config)
    # when it is imported
    result = upgraded("config", "import", str(woo_id), upgraded.write_json("invalid.json", config))
    # then the command fails cleanly listing the field at fault, and nothing of the file was applied
    assert result.exit_code == 1, (result.output, result.exception)
    assert "config rejected, nothing changed" in result.output
    assert f"  {field}: " in result.output
    assert upgraded.ok("config", "export", str(woo_id)) == before


def test_exporting_an_unknown_shop_fails_naming_it(upgraded):
    # given no shop / when a config is exported / then the command names the reference it could not find
    result = upgraded("config", "export", "nowhere.myshopify.com")
    assert result.exit_code == 1
    assert "no shop 'nowhere.myshopify.com'" in result.output


# outbox, keys, worker

def test_the_outbox_of_an_empty_database_says_it_is_empty(upgraded):
    # given a migrated database that never sent anything
    # when the dev outbox is shown / then it says so
    assert upgraded.ok("outbox").strip() == "outbox is empty"


def test_keys_new_prints_a_usable_fernet_key(embedded):
    # given nothing (the command needs no database) / when a key is asked for
    output = embedded.ok("keys", "new")
    # then one line comes back, and it encrypts and decrypts
    key = output.strip()
    assert output == key + "\n"
    assert Fernet(key).decrypt(Fernet(key).encrypt(b"probe")) == b"probe"
    # and a second call gives a different key
    assert embedded.ok("keys", "new").strip() != key


def test_worker_once_runs_one_pass_and_prints_its_counts(upgraded, restore_signal_handlers):
    # given a migrated database with a shop and nothing due
    add_shopify(upgraded)
    # when one worker pass runs
    output = upgraded.ok("worker", "--once")
    # then it reports what it did: nothing to process, nothing abandoned, nothing claimed
    assert output.strip() == "deliveries 0, abandoned 0, steps claimed 0"


# connections

def connections_to(database: str, settle_seconds: float = 5.0) -> int:
    """Open connections to ``database``; a backend whose client just hung up gets a moment to leave."""
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + settle_seconds
    try:
        while True:
            with admin.connect() as conn:
                count = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"),
                                     {"name": database}).scalar_one()
            if count == 0 or time.monotonic() > deadline:
                return count
            time.sleep(0.05)
    finally:
        admin.dispose()


@pytest.mark.parametrize("cartbridge", [b for b in BACKENDS if b == "postgresql"], indirect=True)
def test_a_command_holds_no_database_connection_once_it_returns(cartbridge):
    # given a migrated PostgreSQL database (web and workers on many machines share its connection slots)
    cartbridge.ok("db", "upgrade")
    # when a few commands have run to completion (the garbage collector paused, so that a connection
    # left open cannot be reclaimed by chance before it is counted)
    gc.disable()
    try:
        add_shopify(cartbridge)
        cartbridge.ok("shops", "list")
        cartbridge.ok("outbox")
        # then none of them left a connection open behind it
        assert connections_to(cartbridge.database) == 0
    finally:
        gc.enable()


# the embedded default needs no separate migration step

@pytest.mark.parametrize("args", [
    ("shops", "add", "shopify", "--domain", SHOPIFY_DOMAIN, "--access-token", ACCESS_TOKEN),
    ("shops", "list"),
    ("outbox",),
], ids=["shops-add", "shops-list", "outbox"])
def test_the_embedded_instance_migrates_itself_on_first_use(embedded, args):
    # given a brand-new embedded instance on which `db upgrade` never ran
    # (production migrates in its release phase; the embedded default promises one command, no setup)
    # when the first command an agency types is run
    result = embedded(*args)
    # then it works instead of failing on missing tables
    assert result.exit_code == 0, (result.output, result.exception)
