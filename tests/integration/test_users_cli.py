"""`cartbridge users` as an operator runs it: the first user, grants, passwords, removal."""
from __future__ import annotations

from click.testing import CliRunner

import bridge.cli_users  # noqa: F401  (registers `users` on the group)
from bridge.cli import cli
from bridge.db.engine import unit_of_work
from bridge.services.users import find_user, shop_ids_for
from tests.integration.test_cli import add_shopify, cartbridge, upgraded  # noqa: F401  (fixtures)
from tests.integration.test_privacy_cli import instance

PASSWORD = "a long enough password"


def users(*args: str, password: str | None = PASSWORD):
    return CliRunner().invoke(cli, ["users", *args], input=None if password is None else password + "\n",
                              prog_name="cartbridge")


def granted(email: str):
    with instance() as runtime, unit_of_work(runtime.sessions) as session:
        user = find_user(session, email)
        return None if user is None else shop_ids_for(session, user)


def test_the_first_user_is_added_with_a_shop_and_the_password_never_printed(upgraded):
    # given a connected shop
    shop_id = add_shopify(upgraded)
    # when the operator adds a user for it, the password read from stdin
    result = users("add", "Owner@Example.com", "--shop", str(shop_id), "--password-stdin")
    # then the user exists, lower-cased, with that one shop, and nothing echoes the password
    assert result.exit_code == 0, result.output
    assert "user owner@example.com added; may manage x.myshopify.com" in result.output
    assert PASSWORD not in result.output
    assert granted("owner@example.com") == frozenset({shop_id})


def test_the_password_prompt_asks_twice_and_hides_the_input(upgraded):
    # given a connected shop
    add_shopify(upgraded)
    # when the operator types the password twice at the prompt
    result = CliRunner().invoke(cli, ["users", "add", "a@example.com", "--shop", "x.myshopify.com"],
                                input=f"{PASSWORD}\n{PASSWORD}\n", prog_name="cartbridge")
    # then the user is added and the typed password is not echoed
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output


def test_a_short_password_an_unknown_shop_and_a_second_account_are_refused(upgraded):
    # given a shop and a user
    add_shopify(upgraded)
    assert users("add", "a@example.com", "--shop", "x.myshopify.com", "--password-stdin").exit_code == 0
    # when the operator tries a short password, an unknown shop, the same address again, no shop at all
    short = users("add", "b@example.com", "--shop", "x.myshopify.com", "--password-stdin", password="short")
    unknown = users("add", "c@example.com", "--shop", "nope.myshopify.com", "--password-stdin")
    twice = users("add", "A@example.com", "--shop", "x.myshopify.com", "--password-stdin")
    no_shop = users("add", "d@example.com", "--password-stdin")
    # then each fails with its reason and none of them exists
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    assert unknown.exit_code != 0 and "nope.myshopify.com" in unknown.output
    assert twice.exit_code != 0 and "already exists" in twice.output
    assert no_shop.exit_code != 0 and "--all-shops" in no_shop.output
    assert granted("b@example.com") is None and granted("c@example.com") is None


def test_grant_revoke_all_shops_list_and_remove(upgraded):
    # given two shops and a user of the first
    first = add_shopify(upgraded)
    second = add_shopify(upgraded, "y.myshopify.com")
    users("add", "staff@example.com", "--shop", str(first), "--password-stdin")
    # when the second shop is granted, then the first revoked
    assert "granted" in users("grant", "staff@example.com", "y.myshopify.com", password=None).output
    assert granted("staff@example.com") == frozenset({first, second})
    assert "revoked" in users("revoke", "staff@example.com", str(first), password=None).output
    assert granted("staff@example.com") == frozenset({second})
    # and an agency owner is added for every shop
    users("add", "boss@example.com", "--all-shops", "--password-stdin")
    assert granted("boss@example.com") is None
    listing = users("list", password=None).output
    assert "boss@example.com\tevery shop" in listing and "staff@example.com\ty.myshopify.com" in listing
    # when the staff member is removed, they are gone
    assert users("remove", "staff@example.com", password=None).exit_code == 0
    assert granted("staff@example.com") is None


def test_passwd_changes_the_password_and_ends_old_sessions(upgraded):
    # given a user
    add_shopify(upgraded)
    users("add", "a@example.com", "--shop", "x.myshopify.com", "--password-stdin")
    with instance() as runtime, unit_of_work(runtime.sessions) as session:
        before = find_user(session, "a@example.com").session_version
    # when the password is changed
    result = users("passwd", "a@example.com", "--password-stdin", password="another long password")
    # then the session version moved on (cookies carrying the old one no longer sign in)
    assert result.exit_code == 0, result.output
    with instance() as runtime, unit_of_work(runtime.sessions) as session:
        assert find_user(session, "a@example.com").session_version == before + 1
