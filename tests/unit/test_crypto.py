"""Secrets at rest: Fernet with rotating keys, and masking for display."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bridge.crypto import SecretBox, mask


def new_key() -> str:
    return Fernet.generate_key().decode()


def test_a_sealed_secret_opens_to_the_same_text():
    # given a box with one key
    box = SecretBox((new_key(),))
    # when a secret is sealed
    token = box.seal("shpat_0123456789abcdef")
    # then the stored form does not contain it, and opening gives it back
    assert b"shpat_0123456789abcdef" not in token
    assert box.open(token) == "shpat_0123456789abcdef"


def test_none_stays_none_both_ways():
    # given a box
    box = SecretBox((new_key(),))
    # when / then an absent secret is stored and read as absent
    assert box.seal(None) is None
    assert box.open(None) is None


def test_a_box_needs_at_least_one_key():
    # given no keys / when / then the box refuses to exist
    with pytest.raises(ValueError, match="at least one"):
        SecretBox(())


def test_a_secret_sealed_with_the_old_key_opens_after_a_new_key_is_put_first():
    # given a secret sealed before the rotation
    old, new = new_key(), new_key()
    token = SecretBox((old,)).seal("cs_consumer_secret")
    # when a new key is put in front of the old one
    rotated_box = SecretBox((new, old))
    # then the old data still opens
    assert rotated_box.open(token) == "cs_consumer_secret"


def test_rotate_re_encrypts_under_the_new_key_so_the_old_key_can_be_dropped():
    # given a secret sealed with the old key, and a box with the new key first
    old, new = new_key(), new_key()
    token = SecretBox((old,)).seal("whsec_webhook")
    box = SecretBox((new, old))
    # when it is rotated
    rotated = box.rotate(token)
    # then the new key alone opens it and the old key alone no longer does
    assert SecretBox((new,)).open(rotated) == "whsec_webhook"
    with pytest.raises(ValueError):
        SecretBox((old,)).open(rotated)


def test_opening_with_unrelated_keys_raises_a_clear_value_error():
    # given a secret sealed with a key that is not configured
    token = SecretBox((new_key(),)).seal("shpat_lost")
    box = SecretBox((new_key(), new_key()))
    # when / then opening fails saying what went wrong, without the secret or the token
    with pytest.raises(ValueError, match="cannot be decrypted with ENCRYPTION_KEYS") as failure:
        box.open(token)
    assert "shpat_lost" not in str(failure.value)
    assert token.decode() not in str(failure.value)


def test_opening_a_memoryview_from_the_database_works():
    # given a token as a database driver may hand it back
    box = SecretBox((new_key(),))
    token = memoryview(box.seal("ck_key"))
    # when / then it opens like bytes
    assert box.open(token) == "ck_key"


def test_mask_shows_only_the_last_four_characters():
    # given a long secret
    # when it is masked / then only its last four characters remain visible
    masked = mask("shpat_0123456789abcdef")
    assert masked.endswith("cdef")
    assert "shpat_" not in masked
    assert "0123456789ab" not in masked
    assert len(masked.replace("…", "")) == 4


def test_mask_hides_short_secrets_completely():
    # given secrets too short to reveal even four characters safely
    # when / then nothing of them is shown
    assert mask("abcdefgh") == "…"
    assert mask("abc") == "…"


def test_mask_of_nothing_is_empty():
    # given no secret / when / then nothing is shown
    assert mask(None) == ""
    assert mask("") == ""
