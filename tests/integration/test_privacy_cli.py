"""`cartbridge privacy`, `cartbridge optouts` and `cartbridge purge` as a merchant or an agency
runs them, on the embedded SQLite instance and on PostgreSQL."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from click.testing import CliRunner
from sqlalchemy import select

import bridge.cli_privacy  # noqa: F401  (registers privacy/optouts/purge on the group)
from bridge.cli import cli
from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, OptOut, Shop
from bridge.model import CartConverted, CartObserved, CartSnapshot, Contact, LineItem, OrderInfo
from bridge.runtime import Runtime
from bridge.services.events import apply_event
from bridge.settings import load_settings
from tests.integration.test_cli import SHOPIFY_DOMAIN, add_shopify, cartbridge, upgraded  # noqa: F401  (fixtures)

ANNA = "anna@example.com"


@contextmanager
def instance():
    """The database the command line is pointed at, opened the way the commands open it."""
    runtime = Runtime.from_settings(load_settings())
    try:
        yield runtime
    finally:
        runtime.close()


def observe(shop_id: int, token: str, email: str, *, left_at: datetime, order_at: datetime | None = None) -> None:
    """A checkout (and, when ``order_at`` is given, the order that bought it) applied as events."""
    snapshot = CartSnapshot(external_id=token, contact=Contact(email=email, first_name="Anna", customer_id=None),
                            currency="EUR", line_items=(LineItem("Linen Shirt", 1, Decimal("49.00")),),
                            subtotal=Decimal("49.00"), total=Decimal("49.00"), updated_at=left_at)
    events = [(CartObserved(snapshot), left_at)]
    if order_at is not None:
        events.append((CartConverted(OrderInfo(f"order-{token}", order_at, Decimal("49.00"), "EUR",
                                               checkout_ref=token, email=email)), order_at))
    with instance() as runtime, unit_of_work(runtime.sessions) as session:
        for event, handled_at in events:   # each handled when it happened (retention goes by our clock)
            apply_event(session, session.get(Shop, shop_id), event, handled_at, runtime.contacts())


def carts() -> list[tuple[str, str | None]]:
    with instance() as runtime, unit_of_work(runtime.sessions) as session:
        return [tuple(r) for r in session.execute(select(Cart.external_id, Cart.email).order_by(Cart.id))]


def test_export_prints_the_customers_data_and_keeps_it_as_a_request(upgraded, tmp_path):
    # given Anna's cart and Bob's in a shop
    shop_id = add_shopify(upgraded)
    now = datetime.now(UTC)
    observe(shop_id, "tok-anna", ANNA, left_at=now)
    observe(shop_id, "tok-bob", "bob@example.com", left_at=now)
    # when the merchant exports Anna's data
    result = upgraded("privacy", "export", SHOPIFY_DOMAIN, "Anna@Example.com")
    # then her cart comes out as JSON on stdout, Bob's does not, and the request is noted on stderr
    assert result.exit_code == 0, result.output
    export = json.loads(result.stdout)
    assert [(c["external_id"], c["email"], c["total"]) for c in export["carts"]] == [("tok-anna", ANNA, "49.00")]
    assert "bob" not in result.stdout
    assert "recorded as privacy request 1" in result.stderr
    # and the request is listed and shows the same export again
    [line] = upgraded.ok("privacy", "requests", str(shop_id)).splitlines()
    assert line.split("\t")[:4] == ["1", "export", "cli", "-"]
    assert json.loads(upgraded.ok("privacy", "show", "1")) == export
    # and --out writes the same JSON to a file
    out = tmp_path / "anna.json"
    upgraded.ok("privacy", "export", str(shop_id), ANNA, "--out", str(out))
    assert json.loads(out.read_text(encoding="utf-8"))["carts"] == export["carts"]


def test_erase_asks_first_and_then_leaves_only_the_opt_out_hash(upgraded):
    # given Anna's cart and her opt-out, and Bob's cart
    shop_id = add_shopify(upgraded)
    now = datetime.now(UTC)
    observe(shop_id, "tok-anna", ANNA, left_at=now)
    observe(shop_id, "tok-bob", "bob@example.com", left_at=now)
    upgraded.ok("optouts", "add", str(shop_id), ANNA)
    # when the merchant starts erasing her but answers no
    declined = CliRunner().invoke(cli, ["privacy", "erase", str(shop_id), ANNA], input="n\n")
    # then nothing changed
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert carts() == [("tok-anna", ANNA), ("tok-bob", "bob@example.com")]
    # when the merchant confirms
    output = upgraded.ok("privacy", "erase", str(shop_id), ANNA, "--yes")
    # then the counts are printed, her cart holds no contact, Bob's is untouched
    assert output.startswith("erased (privacy request ") and "carts 1" in output and "opt_outs 1" in output
    assert carts() == [("tok-anna", None), ("tok-bob", "bob@example.com")]
    # and her opt-out is listed without the address, still active
    [line] = upgraded.ok("optouts", "list", str(shop_id)).splitlines()
    assert line.split("\t")[:4] == ["(erased)", "email", "merchant", "active"]


def test_optouts_add_list_and_remove(upgraded):
    # given a shop
    shop_id = add_shopify(upgraded)
    # when the merchant opts out an email (with a reason) and a phone number
    assert upgraded.ok("optouts", "add", str(shop_id), ANNA, "--reason", "asked by phone") == (
        "opted out; 0 pending reminder(s) stopped\n")
    upgraded.ok("optouts", "add", str(shop_id), "+1 555 0100 200")
    # then both are listed as the merchant's, active
    rows = [line.split("\t")[:4] for line in upgraded.ok("optouts", "list", str(shop_id)).splitlines()]
    assert rows == [[ANNA, "email", "merchant", "active"], ["+1 555 0100 200", "phone", "merchant", "active"]]
    # when the email is resubscribed
    assert upgraded.ok("optouts", "remove", str(shop_id), ANNA) == "1 opt-out(s) lifted\n"
    # then only the phone is listed, and --all shows the email as lifted
    assert [line.split("\t")[0] for line in upgraded.ok("optouts", "list", str(shop_id)).splitlines()] == [
        "+1 555 0100 200"]
    every = [line.split("\t")[:4] for line in upgraded.ok("optouts", "list", "--all", str(shop_id)).splitlines()]
    assert every[0] == [ANNA, "email", "merchant", "lifted"]
    with instance() as runtime, unit_of_work(runtime.sessions) as session:
        row = session.scalars(select(OptOut).where(OptOut.kind == "email")).one()
    assert (row.created_by, row.removed_by, row.reason) == ("cli", "cli", "asked by phone")


def test_a_contact_that_is_neither_email_nor_phone_is_refused(upgraded):
    # given a shop / when something that is no contact is opted out
    shop_id = add_shopify(upgraded)
    result = upgraded("optouts", "add", str(shop_id), "anna")
    # then it is a usage error and nothing is stored
    assert result.exit_code == 2 and "neither an email address nor a phone number" in result.output
    assert upgraded.ok("optouts", "list", str(shop_id)) == "no opt-outs\n"


def test_purge_deletes_carts_closed_before_the_retention(upgraded):
    # given a cart bought ten days ago and one bought today
    shop_id = add_shopify(upgraded)
    now = datetime.now(UTC)
    observe(shop_id, "tok-old", ANNA, left_at=now - timedelta(days=10, hours=1), order_at=now - timedelta(days=10))
    observe(shop_id, "tok-new", "bob@example.com", left_at=now - timedelta(hours=1), order_at=now)
    # when the purge runs keeping five days
    output = upgraded.ok("purge", "--days", "5")
    # then it says what it deleted, and only the old cart is gone
    assert output.startswith("deleted: ") and "carts 1" in output
    assert carts() == [("tok-new", "bob@example.com")]
