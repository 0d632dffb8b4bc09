"""CLI for admin page users: ``cartbridge users add|grant|revoke|passwd|list|remove``.

The first user is made here (there is no sign-up page). The password is asked for at
the prompt (twice, hidden) or read from stdin with ``--password-stdin`` for scripts;
it is never taken as an argument, which would leave it in shell history and ``ps``.
"""
from __future__ import annotations

import sys

import click
from sqlalchemy import select

from bridge.cli import _runtime, cli
from bridge.cli_shops import _shop
from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop, User, UserShop
from bridge.services.users import UserError, add_user, find_user, grant, revoke, set_password


@cli.group()
def users() -> None:
    """People who sign in to the admin page, and the shops each may manage."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user(session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise click.ClickException(f"no user {email}")
    return user


@users.command("add")
@click.argument("email")
@click.option("--shop", "shop_refs", multiple=True, help="a shop (id or domain) this user may manage; repeat")
@click.option("--all-shops", is_flag=True, help="may manage every shop, present and future (agency owner)")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
def users_add(email: str, shop_refs: tuple[str, ...], all_shops: bool, password_stdin: bool) -> None:
    """Create a user who signs in at PUBLIC_URL/admin/ with EMAIL and a password."""
    if not shop_refs and not all_shops:
        raise click.UsageError("name at least one --shop, or --all-shops")
    runtime = _runtime()
    password = _password(password_stdin)
    try:
        with unit_of_work(runtime.sessions) as session:
            shops = [_shop(session, ref) for ref in shop_refs]
            user = add_user(session, email, password, runtime.now(), shops=shops, all_shops=all_shops)
            names = "every shop" if all_shops else ", ".join(shop.domain for shop in shops)
            click.echo(f"user {user.email} added; may manage {names}")
    except UserError as exc:
        raise click.ClickException(str(exc)) from None


@users.command("grant")
@click.argument("email")
@click.argument("shop_refs", nargs=-1, required=True)
def users_grant(email: str, shop_refs: tuple[str, ...]) -> None:
    """Let a user manage more shops."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        user = _user(session, email)
        for ref in shop_refs:
            shop = _shop(session, ref)
            click.echo(f"{shop.domain}: {'granted' if grant(session, user, shop) else 'already granted'}")


@users.command("revoke")
@click.argument("email")
@click.argument("shop_refs", nargs=-1, required=True)
def users_revoke(email: str, shop_refs: tuple[str, ...]) -> None:
    """Take shops away from a user (takes effect on their next request)."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        user = _user(session, email)
        for ref in shop_refs:
            shop = _shop(session, ref)
            click.echo(f"{shop.domain}: {'revoked' if revoke(session, user, shop) else 'was not granted'}")


@users.command("passwd")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
def users_passwd(email: str, password_stdin: bool) -> None:
    """Set a new password; every session signed in with the old one ends."""
    runtime = _runtime()
    password = _password(password_stdin)
    try:
        with unit_of_work(runtime.sessions) as session:
            set_password(_user(session, email), password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("password changed; existing sessions are signed out")


@users.command("list")
def users_list() -> None:
    """Each user, the shops they may manage and when they last signed in."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        rows = session.scalars(select(User).order_by(User.email)).all()
        for user in rows:
            domains = session.scalars(select(Shop.domain).join(UserShop, UserShop.shop_id == Shop.id)
                                      .where(UserShop.user_id == user.id).order_by(Shop.domain)).all()
            shops = "every shop" if user.all_shops else (", ".join(domains) or "no shops")
            last = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
            click.echo(f"{user.email}\t{shops}\tlast sign-in {last}")
    if not rows:
        click.echo("no users (add one with `cartbridge users add EMAIL --shop SHOP`)")


@users.command("remove")
@click.argument("email")
def users_remove(email: str) -> None:
    """Delete a user; their sessions end at once."""
    runtime = _runtime()
    with unit_of_work(runtime.sessions) as session:
        session.delete(_user(session, email))
    click.echo(f"user {email} removed")
