"""Settings: the embedded default runs with nothing configured, production refuses to boot half-set."""
from __future__ import annotations

import json
import stat

import pytest
from cryptography.fernet import Fernet

from bridge.settings import SettingsError, load_settings

PG_URL = "postgresql://app:pw@db.example.com:5432/cartbridge"


def production_env(**overrides: str) -> dict[str, str]:
    env = {"DATABASE_URL": PG_URL, "SECRET_KEY": "s3cret", "ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def test_embedded_mode_generates_its_secrets_once_and_keeps_them_private(tmp_path):
    # given an empty environment pointing only at an instance folder
    env = {"CARTBRIDGE_INSTANCE": str(tmp_path / "instance")}
    # when the settings are loaded
    settings = load_settings(env)
    # then every secret was generated and written to <instance>/secrets.json, readable by the owner only
    secrets_file = tmp_path / "instance" / "secrets.json"
    kept = json.loads(secrets_file.read_text())
    assert set(kept) == {"SECRET_KEY", "ENCRYPTION_KEYS", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET"}
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert settings.embedded is True
    assert settings.secret_key == kept["SECRET_KEY"]
    assert settings.encryption_keys == (kept["ENCRYPTION_KEYS"],)
    Fernet(settings.encryption_keys[0])  # a usable key, not a placeholder
    assert settings.shopify_api_key == kept["SHOPIFY_API_KEY"]
    assert settings.shopify_api_secret == kept["SHOPIFY_API_SECRET"]
    assert settings.database_url == f"sqlite:///{(tmp_path / 'instance' / 'cartbridge.db').resolve()}"


def test_embedded_mode_reuses_the_secrets_it_generated_on_the_next_start(tmp_path):
    # given an instance that already booted once
    env = {"CARTBRIDGE_INSTANCE": str(tmp_path)}
    first = load_settings(env)
    written = (tmp_path / "secrets.json").read_text()
    # when it boots again
    second = load_settings(env)
    # then the same secrets come back (data encrypted on the first run stays readable) and the file is untouched
    assert (second.secret_key, second.encryption_keys, second.shopify_api_secret) == (
        first.secret_key, first.encryption_keys, first.shopify_api_secret)
    assert (tmp_path / "secrets.json").read_text() == written


def test_embedded_mode_prefers_a_secret_given_in_the_environment(tmp_path):
    # given an embedded instance whose SECRET_KEY is set explicitly
    env = {"CARTBRIDGE_INSTANCE": str(tmp_path), "SECRET_KEY": "from-the-environment"}
    # when the settings are loaded
    settings = load_settings(env)
    # then the environment wins over the generated value
    assert settings.secret_key == "from-the-environment"


def test_production_mode_without_secret_key_and_encryption_keys_names_both(tmp_path):
    # given a DATABASE_URL but neither secret
    env = {"DATABASE_URL": PG_URL, "CARTBRIDGE_INSTANCE": str(tmp_path)}
    # when the settings are loaded
    with pytest.raises(SettingsError) as failure:
        load_settings(env)
    # then the boot fails naming both variables, and nothing was generated behind the operator's back
    assert "SECRET_KEY" in str(failure.value)
    assert "ENCRYPTION_KEYS" in str(failure.value)
    assert not (tmp_path / "secrets.json").exists()


def test_production_mode_without_encryption_keys_names_only_that_variable():
    # given production settings missing ENCRYPTION_KEYS only
    env = production_env(ENCRYPTION_KEYS=None)
    # when the settings are loaded
    with pytest.raises(SettingsError, match="ENCRYPTION_KEYS") as failure:
        load_settings(env)
    # then SECRET_KEY, which is set, is not blamed
    assert "SECRET_KEY" not in str(failure.value)


def test_production_mode_with_an_empty_secret_key_counts_it_as_missing():
    # given SECRET_KEY set to an empty string (a common mistake in a dashboard)
    env = production_env(SECRET_KEY="")
    # when / then the boot fails naming it
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings(env)


def test_a_malformed_fernet_key_fails_naming_its_position():
    # given a valid key followed by a malformed one
    env = production_env(ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},not-a-fernet-key")
    # when the settings are loaded
    with pytest.raises(SettingsError) as failure:
        load_settings(env)
    # then the message names the variable and the second key, and never echoes the key itself
    message = str(failure.value)
    assert "ENCRYPTION_KEYS" in message
    assert "#2" in message
    assert "not-a-fernet-key" not in message


def test_several_fernet_keys_are_kept_in_order():
    # given a new key in front of an old one, with stray spaces
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = production_env(ENCRYPTION_KEYS=f" {new} , {old} ")
    # when the settings are loaded
    settings = load_settings(env)
    # then both keys are kept, the new one first
    assert settings.encryption_keys == (new, old)


def test_a_sendgrid_key_without_mail_from_fails():
    # given a SendGrid key but no sender address
    env = production_env(SENDGRID_API_KEY="SG.key")
    # when / then the boot fails naming MAIL_FROM
    with pytest.raises(SettingsError, match="MAIL_FROM"):
        load_settings(env)


@pytest.mark.parametrize("given", ["postgres://app:pw@db.example.com:5432/cartbridge",
                                   "postgresql://app:pw@db.example.com:5432/cartbridge"])
def test_postgres_urls_get_the_psycopg_driver(given):
    # given a Heroku-style or plain PostgreSQL URL
    env = production_env(DATABASE_URL=given)
    # when the settings are loaded
    settings = load_settings(env)
    # then SQLAlchemy is told to use psycopg 3, the rest of the URL untouched
    assert settings.database_url == "postgresql+psycopg://app:pw@db.example.com:5432/cartbridge"
    assert settings.embedded is False


def test_a_non_numeric_max_webhook_bytes_fails_naming_the_variable():
    # given a size cap that is not a number
    env = production_env(MAX_WEBHOOK_BYTES="1MB")
    # when / then the boot fails naming the variable and the value
    with pytest.raises(SettingsError, match="MAX_WEBHOOK_BYTES") as failure:
        load_settings(env)
    assert "1MB" in str(failure.value)


def test_a_numeric_max_webhook_bytes_is_used():
    # given a size cap
    env = production_env(MAX_WEBHOOK_BYTES="2048")
    # when / then it is read as a number
    assert load_settings(env).max_webhook_bytes == 2048


def test_the_channel_is_the_outbox_without_a_sendgrid_key():
    # given no SendGrid key
    # when / then mail goes to the dev outbox
    assert load_settings(production_env()).channel == "outbox"


def test_the_channel_is_sendgrid_with_a_key_and_a_sender():
    # given a SendGrid key and a sender
    env = production_env(SENDGRID_API_KEY="SG.key", MAIL_FROM="shop@example.com")
    # when the settings are loaded
    settings = load_settings(env)
    # then mail goes through SendGrid from that sender
    assert settings.channel == "sendgrid"
    assert settings.mail_from == "shop@example.com"


def test_shopify_secrets_list_the_current_secret_then_the_previous_one():
    # given a rotation in progress
    env = production_env(SHOPIFY_API_SECRET="current", SHOPIFY_API_SECRET_PREVIOUS="previous")
    # when / then both are accepted, the current one first
    assert load_settings(env).shopify_secrets == ("current", "previous")


def test_shopify_secrets_hold_only_the_current_secret_outside_a_rotation():
    # given no previous secret
    env = production_env(SHOPIFY_API_SECRET="current")
    # when / then only the current one is listed
    assert load_settings(env).shopify_secrets == ("current",)


def test_encryption_keys_made_only_of_separators_count_as_missing():
    # given ENCRYPTION_KEYS that holds no key at all
    env = production_env(ENCRYPTION_KEYS=" , ")
    # when / then the boot fails with a SettingsError naming the variable, like an unset one
    with pytest.raises(SettingsError, match="ENCRYPTION_KEYS"):
        load_settings(env)


def test_a_long_random_string_is_accepted_as_an_encryption_key_and_stays_the_same_key():
    # given ENCRYPTION_KEYS set by a platform's "generate a secret" button: random, but not a Fernet key
    env = production_env(ENCRYPTION_KEYS="a" * 16 + "0123456789abcdef0123")
    # when the settings are loaded twice (two boots)
    first, second = load_settings(env), load_settings(env)
    # then it became a usable Fernet key, the same one both times (data sealed on one boot opens on the next)
    key = first.encryption_keys[0]
    assert Fernet(key).decrypt(Fernet(key).encrypt(b"probe")) == b"probe"
    assert second.encryption_keys == first.encryption_keys
    assert key != "a" * 16 + "0123456789abcdef0123"
