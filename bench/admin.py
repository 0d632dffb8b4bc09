"""Admin dashboard: the time to build one shop's figures at 2 thousand and at 20 thousand carts.

One shop's carts are bulk-inserted (``INSERT`` of prepared rows, in one transaction per
batch), abandoned over the last 120 days: a tenth recovered after a reminder (order
total in USD, a few in EUR), the rest abandoned, expired or suppressed. Every abandoned
cart has step 1 sent; half also step 2; a part of the messages have delivered / opened /
clicked times, as the provider's events would set them. Then ANALYZE, and
``bridge.services.stats.shop_stats`` (30 and 90 days) and ``shop_summaries`` (the Shops
list) are timed, median of ``--repeats`` runs, at the small size and again after growing
the same shop to the large size.

    python -m bench.admin [--db sqlite|postgresql|both] [--carts-small 2000] [--carts-large 20000] [--quick]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select

from bench._common import (SHOP_DOMAIN, add_db_argument, bench_database, chosen_databases, database_version,
                           make_runtime, median, print_header, print_table, verdict)
from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, Message, ReminderStep, Shop
from bridge.services.shops import create_shop
from bridge.services.stats import shop_stats, shop_summaries

# The period's carts are read (three columns each) for the daily buckets, so the time grows
# with the cohort; what matters is that the page stays quick for a large shop.
TARGET_MS = 1000.0          # the 90-day dashboard at the large size
STATES = ("abandoned", "expired", "expired", "suppressed", "abandoned", "expired", "abandoned", "expired",
          "abandoned", "recovered")


def seed(runtime, shop_id: int, first: int, last: int, now: datetime) -> float:
    """Carts ``first``..``last`` (numbered, so a second call grows the same shop); seconds taken."""
    began = time.perf_counter()
    for start in range(first, last + 1, 2000):
        numbers = range(start, min(start + 2000, last + 1))
        with unit_of_work(runtime.sessions) as session:
            session.execute(insert(Cart), [_cart(shop_id, n, now) for n in numbers])
            ids = dict(session.execute(select(Cart.external_id, Cart.id).where(
                Cart.shop_id == shop_id, Cart.external_id.in_([f"bench-{n}" for n in numbers]))).all())
            steps = [dict(cart_id=ids[f"bench-{n}"], shop_id=shop_id, position=p, channel="email",
                          due_at=_left(n, now) + timedelta(hours=p), status="sent", attempts=1,
                          sent_at=_left(n, now) + timedelta(hours=p), updated_at=now)
                     for n in numbers for p in ((1, 2) if n % 2 else (1,))]
            session.execute(insert(ReminderStep), steps)
            step_ids = session.execute(select(ReminderStep.id, ReminderStep.cart_id, ReminderStep.sent_at).where(
                ReminderStep.cart_id.in_(list(ids.values())))).all()
            session.execute(insert(Message), [_message(shop_id, *row) for row in step_ids])
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - began


def _left(n: int, now: datetime) -> datetime:
    return now - timedelta(minutes=random.Random(n).randrange(120 * 24 * 60))   # spread over 120 days


def _cart(shop_id: int, n: int, now: datetime) -> dict:
    left, state = _left(n, now), STATES[n % len(STATES)]
    recovered = state == "recovered"
    return dict(shop_id=shop_id, external_id=f"bench-{n}", cart_token=f"ct-{n}", email=f"buyer-{n}@example.com",
                currency="EUR" if recovered and n % 7 == 0 else "USD", subtotal=Decimal("49.00"),
                total=Decimal("49.00"), state=state, platform_updated_at=left - timedelta(hours=1),
                abandon_at=left, abandoned_at=left, closed_at=left + timedelta(hours=3) if recovered else None,
                order_id=str(n) if recovered else None,
                order_total=Decimal("49.00") + n % 50 if recovered else None, created_at=left, updated_at=now)


def _message(shop_id: int, step_id: int, cart_id: int, sent_at: datetime) -> dict:
    seen = sent_at + timedelta(minutes=5)
    return dict(step_id=step_id, shop_id=shop_id, cart_id=cart_id, channel="email", to_email="b@example.com",
                language="en", subject="Your cart", html="<p>cart</p>", text="cart", status="sent",
                created_at=sent_at, sent_at=sent_at, delivered_at=seen if step_id % 10 else None,
                opened_at=seen if step_id % 3 == 0 else None, clicked_at=seen if step_id % 9 == 0 else None)


def timed(runtime, repeats: int, build) -> float:
    timings = []
    for _ in range(repeats):
        with runtime.sessions() as session:
            began = time.perf_counter()
            build(session)
            timings.append(1000 * (time.perf_counter() - began))
    return median(timings)


def bench_kind(kind: str, args: argparse.Namespace) -> list[list[object]]:
    rows = []
    with bench_database(kind, "admin") as url, tempfile.TemporaryDirectory() as folder:
        print(f"-- {kind}: {database_version(url)}", flush=True)
        runtime = make_runtime(url, Path(folder))
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            with unit_of_work(runtime.sessions) as session:
                shop_id = create_shop(session, runtime.box, platform="shopify", domain=SHOP_DOMAIN,
                                      name="Bench Shop", now=now).id
            previous = 0
            for size in (args.carts_small, args.carts_large):
                seeded = seed(runtime, shop_id, previous + 1, size, now)
                previous = size
                ms30 = timed(runtime, args.repeats, lambda s: shop_stats(s, s.get(Shop, shop_id), now, 30))
                ms90 = timed(runtime, args.repeats, lambda s: shop_stats(s, s.get(Shop, shop_id), now, 90))
                list_ms = timed(runtime, args.repeats, lambda s: shop_summaries(s, None, now, 30))
                with runtime.sessions() as session:     # one at a time: SQLite sessions BEGIN IMMEDIATE
                    figures = shop_stats(session, session.get(Shop, shop_id), now, 30)
                print(f"{kind}: {size:,} carts seeded in {seeded:.1f} s; dashboard {ms30:.1f} ms (30 days, "
                      f"{figures.abandoned:,} abandoned, {figures.recovered:,} recovered)", flush=True)
                rows.append([kind, f"{size:,}", ms30, ms90, list_ms, f"{seeded:.1f}"])
        finally:
            runtime.close()
    return rows


HEADERS = ["db", "carts", "dashboard 30d ms", "dashboard 90d ms", "shops list ms", "seed s"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_db_argument(parser)
    parser.add_argument("--carts-small", type=int, default=2_000)
    parser.add_argument("--carts-large", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=15, help="timings per figure (median)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (5 repeats)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 5
    print_header("cartbridge admin dashboard", databases=args.db, repeats=args.repeats,
                 sizes=f"{args.carts_small:,} then {args.carts_large:,} carts in one shop, over 120 days",
                 target=f"90-day dashboard at {args.carts_large:,} carts <= {TARGET_MS:g} ms")
    rows = [row for kind in chosen_databases(args.db) for row in bench_kind(kind, args)]
    print("== summary")
    print_table(HEADERS, rows)
    for small, large in zip(rows[::2], rows[1::2]):
        print(f"{small[0]}: dashboard (30 days) {small[2]:.1f} ms at {small[1]} -> {large[2]:.1f} ms at {large[1]} "
              f"carts, ratio {large[2] / small[2]:.2f}; 90 days {small[3]:.1f} -> {large[3]:.1f} ms, ratio "
              f"{large[3] / small[3]:.2f} (target <= {TARGET_MS:g} ms): {verdict(large[3] <= TARGET_MS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
