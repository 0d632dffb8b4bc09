"""Discounted reminders: sent per second, and platform create calls per discounted reminder.

N carts are seeded through ``apply_event`` on a shop whose only enabled step offers 10%,
due at once. One in-process worker (``bridge.worker.run_pass`` with the dev outbox
channel, so the email side costs little) sends them while creating each code on a local
platform API through the real client library: ``tests.servers.shopify_admin`` (Admin
GraphQL via ``shopifyapp``) or ``tests.servers.woocommerce_api`` (REST via ``woocommerce``,
OAuth 1.0a). The baseline is the same carts on a shop whose step offers no code, in the
same process, so the ratio is the cost of creating codes.

Rounds: ``baseline`` (no code), ``clean`` (every create answered at once; Shopify's bucket
sized like a Shopify Plus store: 20000 points, restoring 1000/s), and ``faults`` (a
standard store's bucket, 2000 points restoring 100/s, plus injected faults: every 10th
request answered too late for the 2 s client timeout after the platform executed it,
and throttled or 429 answers). The faults round runs worker passes, moving the clock past
each backoff, until every reminder is out. Figures per round: reminders/s (sent / wall time),
create requests per discounted reminder (every request to the create endpoint, including
throttled and failed ones), throttled answers, creates executed per code (codes on the platform / distinct
codes: must be exactly 1.00), and duplicates (must be 0).

    python -m bench.discounts [--db sqlite|postgresql|both] [--carts 300] [--quick] [--platform shopify|woocommerce|both]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench._common import (add_db_argument, bench_database, chosen_databases, database_version, make_runtime,
                           print_header, print_table, verdict)
from bridge.db.engine import unit_of_work
from bridge.db.tables import Discount, OutboxEntry, ReminderStep
from bridge.discounts import DEFAULT_STEP_DISCOUNT, NO_DISCOUNT
from bridge.model import CartObserved, CartSnapshot, Contact, LineItem
from bridge.rules import SequenceSettings, StepSetting
from bridge.services.events import apply_event
from bridge.services.shops import create_shop, save_sequence
from bridge.worker import run_pass
from connectors.base import PlatformHttp
from tests.servers.shopify_admin import ShopifyAdminServer
from tests.servers.woocommerce_api import WooCommerceTestServer

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
FAULT_EVERY = 10
# The client timeout: short enough that a late answer costs little wall time, long enough
# that 32 concurrent calls to a local server sharing this process's cores never hit it.
TIMEOUT = 2.0


class Clock:
    def __init__(self) -> None:
        self.current = START

    def __call__(self) -> datetime:
        return self.current


def sequence(with_code: bool) -> SequenceSettings:
    """Step 1 switched off, step 2 due as soon as the cart counts as abandoned."""
    return SequenceSettings(0, (StepSetting(1, 0, enabled=False),
                                StepSetting(2, 0, discount=DEFAULT_STEP_DISCOUNT if with_code else NO_DISCOUNT)))


def seed(runtime, platform: str, domain: str, with_code: bool, carts: int, credentials: dict) -> int:
    with unit_of_work(runtime.sessions) as session:
        shop = create_shop(session, runtime.box, platform=platform, domain=domain, name="Bench", now=runtime.now(),
                           **credentials)
        save_sequence(session, shop, sequence(with_code))
        # Measured here: code creation. Quiet hours and the cap (two steps at delay 0) would
        # hold steps back by the hour; the open-order check is a platform call of its own.
        shop.quiet_hours_start = shop.quiet_hours_end = shop.frequency_cap_hours = 0
        shop.open_order_check = False
        for index in range(carts):
            snap = CartSnapshot(
                external_id=f"{domain}-{index}", contact=Contact(f"c{index}@example.com", first_name="Ann",
                                                                customer_id=str(5000 + index)),
                currency="USD", line_items=(LineItem("Mug", 2, Decimal("12.50"), product_id="11", variant_id="12"),),
                subtotal=Decimal("25.00"), total=Decimal("25.00"), updated_at=runtime.now() - timedelta(hours=2),
                recovery_url=f"https://{domain}/checkouts/{index}/recover" if platform == "shopify" else None)
            apply_event(session, shop, CartObserved(snap), runtime.now(), runtime.contacts())
        return shop.id


def drain(runtime, clock: Clock) -> tuple[float, int]:
    """Worker passes until no step is pending; returns (seconds spent in passes, passes)."""
    dispatcher, spent, passes = runtime.dispatcher(), 0.0, 0
    try:
        while passes < 40:
            started = time.perf_counter()
            run_pass(runtime, dispatcher)
            spent, passes = spent + time.perf_counter() - started, passes + 1
            with unit_of_work(runtime.sessions) as session:
                left = session.scalar(select(func.count()).where(ReminderStep.status.in_(("pending", "claimed"))))
            if not left:
                break
            clock.current += timedelta(hours=1)
    finally:
        dispatcher.close()
    return spent, passes


def counts(runtime) -> tuple[int, int, int]:
    with unit_of_work(runtime.sessions) as session:
        sent = session.scalar(select(func.count()).select_from(OutboxEntry))
        codes = session.scalar(select(func.count(func.distinct(Discount.code))).where(Discount.status == "active"))
        held = session.scalar(select(func.count()).where(ReminderStep.status.in_(("held", "failed"))))
    return sent, codes, held


def one_round(url: str, platform: str, mode: str, carts: int) -> list[object]:
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder, _platform(platform, mode) as (server, http, creds, domain):
        runtime = make_runtime(url, Path(folder))
        runtime.now, runtime.platform_http = clock, http
        try:
            seed(runtime, platform, domain, mode != "baseline", carts, creds)
            if mode == "faults":
                _inject(server, platform, carts)
            seconds, passes = drain(runtime, clock)
            sent, codes, held = counts(runtime)
        finally:
            runtime.close()
        creates, executed, refused = _platform_counts(server, platform, domain)
    per_code = executed / codes if codes else 0.0
    return [platform, mode, carts, sent, held, passes, round(seconds, 2), sent / seconds if seconds else 0.0,
            creates / codes if codes else 0.0, refused, per_code, executed - codes]


class _platform:
    """The local API for one round, and the runtime's HTTP plumbing pointed at it."""

    def __init__(self, platform: str, mode: str) -> None:
        self.platform, self.mode = platform, mode

    def __enter__(self):
        self.http = httpx.Client()
        if self.platform == "shopify":
            self.server = ShopifyAdminServer(app_key="bench-app").start()
            bucket = (2000, 100) if self.mode == "faults" else (20000, 1000)
            grant = self.server.add_shop("cartbridge-bench", maximum_available=bucket[0], restore_rate=bucket[1])
            self.http.close()
            self.http = self.server.http_client(timeout=TIMEOUT)
            return self.server, PlatformHttp(self.http, TIMEOUT), {"access_token": grant.access_token}, grant.domain
        self.server = WooCommerceTestServer().start()
        key = self.server.add_key()
        creds = {"consumer_key": key.consumer_key, "consumer_secret": key.consumer_secret, "webhook_secret": "s"}
        return self.server, PlatformHttp(self.http, TIMEOUT), creds, self.server.url

    def __exit__(self, *exc) -> None:
        self.http.close()
        self.server.stop()


def _inject(server, platform: str, carts: int) -> None:
    """Every 10th request: executed but answered too late; plus throttled/429 answers."""
    for index in range(carts // FAULT_EVERY):
        server.delay_next(TIMEOUT + 1)
        if platform == "shopify":
            server.throttle_next(1)
        else:
            server.fail_next(429, retry_after=0)


def _platform_counts(server, platform: str, domain: str) -> tuple[int, int, int]:
    """Create requests, creates executed, requests answered "throttled" (429/THROTTLED)."""
    if platform == "shopify":
        return server.count("discountCodeBasicCreate"), len(server.discounts(domain)), server.throttled
    return server.count("create"), len(server.coupons), sum(1 for s in server.seen if s.status == 429)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_db_argument(parser)
    parser.add_argument("--carts", type=int, default=300, help="discounted reminders per round (default 300)")
    parser.add_argument("--platform", choices=("shopify", "woocommerce", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="100 carts, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.carts = 100
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    platforms = ("shopify", "woocommerce") if args.platform == "both" else (args.platform,)
    print_header("discounted reminders: rate and platform calls", carts_per_round=args.carts,
                 fault_rate=f"1 in {FAULT_EVERY} requests answered late + as many throttled")
    ok = True
    for kind in chosen_databases(args.db):
        rows = []
        with bench_database(kind, "discounts") as url:
            print(f"-- {database_version(url)}", flush=True)
        for platform in platforms:
            for mode in ("baseline", "clean", "faults"):
                with bench_database(kind, "discounts") as url:
                    rows.append(one_round(url, platform, mode, args.carts))
        print_table(["platform", "round", "carts", "sent", "held", "passes", "seconds", "sent/s",
                     "create requests/code", "throttled answers", "creates executed/code", "duplicates"], rows)
        for row in rows:
            if row[1] != "baseline":
                base = next(r for r in rows if r[0] == row[0] and r[1] == "baseline")
                print(f"{row[0]} {row[1]}: {row[7]:.1f}/s vs baseline {base[7]:.1f}/s, ratio {row[7] / base[7]:.2f}")
                ok &= row[3] == args.carts and row[10] == 1.0 and row[11] == 0
        print(flush=True)
    print(f"every reminder sent, exactly one executed create per code, zero duplicates: {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
