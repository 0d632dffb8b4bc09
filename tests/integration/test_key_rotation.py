"""Encryption keys rotate without losing a shop's secrets."""
from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import select

from bridge.crypto import SecretBox
from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop
from bridge.services.shops import rotate_secrets
from tests.support.shops import add_woo_shop


def test_secrets_survive_rotation_and_then_open_with_the_new_key_alone(runtime):
    # given a shop whose secrets were sealed with the current key
    add_woo_shop(runtime, secret="whsec-1234")
    old_key = runtime.settings.encryption_keys[0]
    new_key = Fernet.generate_key().decode()
    # when a new key is put first and the secrets are rotated
    with unit_of_work(runtime.sessions) as session:
        count = rotate_secrets(session, SecretBox((new_key, old_key)))
    # then every secret opens with the new key alone, and the stored bytes are not readable as plaintext
    assert count == 3
    with unit_of_work(runtime.sessions) as session:
        shop = session.scalars(select(Shop)).one()
        assert SecretBox((new_key,)).open(shop.webhook_secret_enc) == "whsec-1234"
        assert b"whsec-1234" not in bytes(shop.webhook_secret_enc)
