"""`cartbridge demo`: the whole loop on the embedded default, in about a minute, with no accounts.

It creates a demo Shopify shop and a demo WooCommerce shop with a fast sequence
(abandoned at once, reminders 0, 1 and 2 minutes after leaving), starts the real web
process (gunicorn) and a worker, sends signed sample webhooks to the real HTTP
endpoints, and prints each reminder as it lands in the dev outbox. One customer buys
right after the first reminder: the demo shows their sequence stop.

It also makes a demo admin user for both shops, with a new password each run printed
on the terminal (this is the local, embedded default only), so the admin page at
``/admin/`` can be opened at once.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime

import click
from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.migrate import upgrade
from bridge.db.tables import OutboxEntry, ReminderStep, Shop
from bridge.demo.payloads import (DEMO_SHOPIFY, DEMO_WOO_URL, EXPECTED_FIRST_REMINDERS, WOO_SECRET,
                                  deliveries, order_for_buyer)
from bridge.rules import SequenceSettings, StepSetting
from bridge.runtime import Runtime
from bridge.services.shops import create_shop, save_sequence
from bridge.services.users import add_user, find_user, set_password
from bridge.settings import load_settings
from bridge.worker import run as run_worker

DEMO_SEQUENCE = SequenceSettings(0, (StepSetting(1, 0), StepSetting(2, 1), StepSetting(3, 2)))
DEMO_ADMIN = "demo@cartbridge.localhost"


def run_demo(*, port: int, keep_running: bool) -> int:
    settings = load_settings()
    runtime = Runtime.from_settings(settings)
    upgrade(runtime.engine)
    shops = _demo_shops(runtime)
    click.echo(f"cartbridge demo on {settings.database_url} (dev outbox: no email leaves this machine)")
    web = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--port", str(port), "--workers", "1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(runtime,), kwargs={"stop": stop}, daemon=True)
    try:
        base = _wait_for_web(port, web)
        worker.start()
        password = _demo_admin(runtime)
        click.echo(f"admin page: {base}/admin/ (sign in as {DEMO_ADMIN}, password {password})")
        seen = _send_and_watch(runtime, base, shops, settings.shopify_api_secret, keep_running)
        click.echo(f"\n{seen} reminders in the outbox. See them again with `cartbridge outbox --full`.")
        click.echo(f"The admin page shows them: {base}/admin/ ({DEMO_ADMIN}, password {password})")
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        web.terminate()
        web.wait(timeout=15)
        if worker.is_alive():
            worker.join(timeout=15)
        runtime.close()


def _demo_shops(runtime: Runtime) -> dict[str, int]:
    with unit_of_work(runtime.sessions) as session:
        found = {s.platform: s for s in session.scalars(select(Shop).where(Shop.domain.in_(
            (DEMO_SHOPIFY, DEMO_WOO_URL))))}
        if "shopify" not in found:
            found["shopify"] = create_shop(session, runtime.box, platform="shopify", domain=DEMO_SHOPIFY,
                                           name="Demo Outfitters", now=runtime.now())
        if "woocommerce" not in found:
            found["woocommerce"] = create_shop(session, runtime.box, platform="woocommerce", domain=DEMO_WOO_URL,
                                               name="Demo Woo Store", now=runtime.now(), webhook_secret=WOO_SECRET)
        for shop in found.values():
            save_sequence(session, shop, DEMO_SEQUENCE)
            # Reminders a minute apart, at any hour: the frequency cap, quiet hours and the
            # re-entry cooldown would rightly hold them back for hours, so the demo turns
            # them off. Consent keeps its default (the demo's buyers accepted marketing).
            shop.frequency_cap_hours, shop.quiet_hours_start, shop.quiet_hours_end = 0, 0, 0
            shop.reentry_cooldown_days = 0
        return {platform: shop.id for platform, shop in found.items()}


def _demo_admin(runtime: Runtime) -> str:
    """A user for every shop of this local instance, with a fresh password each run."""
    password = secrets.token_urlsafe(12)
    with unit_of_work(runtime.sessions) as session:
        user = find_user(session, DEMO_ADMIN)
        if user is None:
            add_user(session, DEMO_ADMIN, password, runtime.now(), all_shops=True)
        else:
            set_password(user, password)
    return password


def _wait_for_web(port: int, web: subprocess.Popen) -> str:
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        if web.poll() is not None:
            detail = web.stderr.read().decode(errors="replace")[-800:]
            raise click.ClickException(f"the web process exited (is port {port} free? try --port)\n{detail}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):
                return base
        except OSError:
            time.sleep(0.1)
    raise click.ClickException("the web process did not start within 15 s")


def _send_and_watch(runtime: Runtime, base: str, shops: dict[str, int], shopify_secret: str,
                    keep_running: bool) -> int:
    run_id = datetime.now(UTC).strftime("%H%M%S")
    for label, request in deliveries(base, shops, shopify_secret, run_id):
        with urllib.request.urlopen(request, timeout=10) as response:
            click.echo(f"-> {label}: HTTP {response.status} {json.load(response)['status']}")
    seen, buyer_done = 0, False
    deadline = time.monotonic() + (3600 * 24 if keep_running else 60)
    while time.monotonic() < deadline:
        seen = _print_new(runtime, seen)
        if not buyer_done and seen >= EXPECTED_FIRST_REMINDERS:
            request = order_for_buyer(base, shopify_secret, run_id)
            with urllib.request.urlopen(request, timeout=10) as response:
                click.echo(f"-> orders/create for Bob (he bought): HTTP {response.status}")
            buyer_done = True
        if buyer_done and not keep_running and _buyer_stopped(runtime, run_id):
            click.echo("Bob's remaining reminders were cancelled: converted. (Run without --exit to watch "
                       "steps 2 and 3 arrive for the others over the next 2 minutes.)")
            return seen
        time.sleep(0.5)
    return seen


def _print_new(runtime: Runtime, seen: int) -> int:
    with unit_of_work(runtime.sessions) as session:
        rows = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id).offset(seen)).all()
        for row in rows:
            click.echo(f"   outbox #{row.id} {row.created_at:%H:%M:%S} to {row.to_email}: {row.subject}")
    return seen + len(rows)


def _buyer_stopped(runtime: Runtime, run_id: str) -> bool:
    from bridge.db.tables import Cart
    with unit_of_work(runtime.sessions) as session:
        statuses = session.scalars(select(ReminderStep.status).join(Cart).where(
            Cart.external_id == f"demo-bob-{run_id}")).all()
    return bool(statuses) and "pending" not in statuses and "cancelled" in statuses
