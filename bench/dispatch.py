"""Reminder dispatch: reminders sent per second by one worker, and the time to find due steps.

(a) Sends per second. N carts left two hours ago (1-3 line items, locales across the
default template languages) are seeded with step 1 of the default sequence due and
steps 2-3 ahead: by default as bulk rows, exactly what ``observe_cart`` writes for a new
cart (the cart, its items, the steps ``bridge.rules.plan_steps`` plans from the shop's
sequence); ``--seed-through-services`` posts the same ``CartObserved`` snapshots through
``apply_event`` instead (slower to seed, same send rate). One worker then does what
``bridge.worker.run_pass`` does after the inbox: ``mark_abandoned``, then batches of
``dispatch_due`` (claim, re-check, render, send, record), in its own process so the local
SendGrid-compatible server (``tests.servers.sendgrid_api``) here does not share its
interpreter lock. It takes no new batch after ``--send-budget`` seconds, so a slow
build still finishes in bounded time; the rate is messages sent / time taken. Every
message marked sent must have reached the server exactly once, and nothing else. Then
the same with the dev outbox channel (``runtime.dispatcher()`` with no SendGrid key).

(b) Time to find the due steps. Carts, three reminder steps each and the orders of the
converted ones are bulk-inserted with one ``INSERT ... SELECT`` per table (PostgreSQL
``generate_series``, SQLite a recursive CTE), in one transaction, then ANALYZE. Most
carts are closed (steps sent or cancelled), live ones have their steps ahead, and 100
have step 1 due. ``claim_due_steps`` (limit: the worker's batch) is timed inside a
transaction that is rolled back, median of up to ``--repeats`` runs, at 10 thousand
carts and again after growing the same tables to 1 million; the candidate SELECT alone
is timed too. For the large batch the non-unique indexes are rebuilt after the load and
PostgreSQL skips foreign-key triggers (``session_replication_role = replica``): the rows
are consistent by construction, and this keeps seeding under a minute.

    python -m bench.dispatch [--db sqlite|postgresql|both] [--carts 2000] [--carts-large N] [--quick]
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, text

from bench._common import (SHOP_DOMAIN, add_db_argument, bench_database, bench_secrets, chosen_databases,
                           database_version, make_runtime, median, print_header, print_table, verdict)
from bridge.db.engine import unit_of_work
from bridge.db.tables import Cart, CartItem, Message, Order, OutboxEntry, ReminderStep, Shop
from bridge.model import CartObserved, CartSnapshot, Contact, LineItem
from bridge.rules import abandon_at, plan_steps
from bridge.services.carts import mark_abandoned
from bridge.services.events import apply_event
from bridge.services.claims import _candidates, claim_due_steps, new_claim_token
from bridge.services.shops import create_shop, sequence_of
from bridge.worker import BATCH

SENDGRID_KEY = "SG.bench-key"
LOCALES = ("en", "en", "en", "ru", "uk", "bg", "kk")
TARGET_SENT_PER_S, TARGET_CLAIM_RATIO, DUE_CARTS = 200.0, 1.5, 100


# -- (a) reminders sent per second -------------------------------------------------------

def snapshot(prefix: str, index: int, left_at: datetime) -> CartSnapshot:
    lines = tuple(LineItem(title=f"Linen Shirt {k}", quantity=1 + k % 2, unit_price=Decimal("49.00") + k,
                           variant_title="M", product_id=str(100 + k), variant_id=str(200 + k), sku=f"LS-{k}",
                           image_url=f"https://cdn.example.com/p/{k}.jpg",
                           product_url=f"https://{SHOP_DOMAIN}/products/{k}")
                  for k in range(1 + index % 3))
    subtotal = sum((li.line_total for li in lines), Decimal("0"))
    token = f"{prefix}-{index}"
    return CartSnapshot(external_id=token, cart_token=f"ct-{token}", currency="USD", line_items=lines,
                        contact=Contact(email=f"buyer-{token}@example.com", first_name="Anna",
                                        customer_id=str(10_000 + index)),
                        subtotal=subtotal, total=subtotal, updated_at=left_at, created_at=left_at,
                        locale=LOCALES[index % len(LOCALES)], accepts_marketing=True,
                        recovery_url=f"https://{SHOP_DOMAIN}/checkouts/{token}/recover?key=k")


def seed_carts(runtime, shop_id: int, prefix: str, count: int, through_services: bool) -> float:
    """``count`` carts left two hours ago (step 1 due, 2-3 ahead); returns the seconds it took."""
    left_at = runtime.now() - timedelta(hours=2)
    snapshots = [snapshot(prefix, index, left_at) for index in range(count)]
    began = time.perf_counter()
    for start in range(0, count, 500):
        with unit_of_work(runtime.sessions) as session:
            shop = session.get(Shop, shop_id)
            if through_services:
                for snap in snapshots[start:start + 500]:
                    apply_event(session, shop, CartObserved(snap), runtime.now(), runtime.contacts())
            else:
                _insert_as_observed(session, shop, snapshots[start:start + 500], runtime.now(), runtime.contacts())
    return time.perf_counter() - began


def _insert_as_observed(session, shop: Shop, snapshots: list[CartSnapshot], now: datetime, keys) -> None:
    """The rows ``observe_cart`` writes for a new cart (cart, items, planned steps), in bulk."""
    sequence = sequence_of(session, shop)
    session.execute(insert(Cart), [dict(
        shop_id=shop.id, external_id=s.external_id, cart_token=s.cart_token, email=s.contact.email,
        email_hash=keys.email_hash(s.contact.email), phone_hash=keys.phone_hash(s.contact.phone),
        first_name=s.contact.first_name, customer_id=s.contact.customer_id, locale=s.locale, currency=s.currency,
        subtotal=s.subtotal, total=s.total, recovery_url=s.recovery_url, accepts_marketing=s.accepts_marketing,
        state="open", platform_updated_at=s.updated_at, abandon_at=abandon_at(s.updated_at, sequence),
        created_at=now, updated_at=now) for s in snapshots])
    ids = dict(session.execute(select(Cart.external_id, Cart.id).where(
        Cart.shop_id == shop.id, Cart.external_id.in_([s.external_id for s in snapshots]))).all())
    session.execute(insert(CartItem), [dict(
        cart_id=ids[s.external_id], position=position, title=li.title, variant_title=li.variant_title,
        quantity=li.quantity, unit_price=li.unit_price, product_id=li.product_id, variant_id=li.variant_id,
        sku=li.sku, image_url=li.image_url, product_url=li.product_url)
        for s in snapshots for position, li in enumerate(s.line_items, 1)])
    session.execute(insert(ReminderStep), [dict(
        cart_id=ids[s.external_id], shop_id=shop.id, position=p.position, channel=p.channel, due_at=p.due_at,
        status="pending", attempts=0, updated_at=now) for s in snapshots for p in plan_steps(s.updated_at, sequence)])


def _worker_child(url: str, env: dict, instance: str, sendgrid_url: str | None, budget: float, results) -> None:
    """The worker's pass (mark abandoned, then batches of ``dispatch_due``) in its own process,
    taking no new batch after ``budget`` seconds; sends back (seconds, steps claimed, outcomes)."""
    from bridge.channels.sendgrid import SendGridChannel
    runtime = make_runtime(url, Path(instance), env)
    try:
        channel = SendGridChannel(SENDGRID_KEY, host=sendgrid_url) if sendgrid_url else None
        dispatcher = runtime.dispatcher(channel=channel)
        began, claimed = time.perf_counter(), 0
        with unit_of_work(runtime.sessions) as session:
            mark_abandoned(session, runtime.now())
        while time.perf_counter() - began < budget:
            batch = dispatcher.dispatch_due(limit=BATCH)
            claimed += batch
            if batch < BATCH:
                break
        results.put((time.perf_counter() - began, claimed, dict(dispatcher.counts)))
    finally:
        runtime.close()


def run_worker(url: str, env: dict, instance: Path, sendgrid_url: str | None,
               budget: float) -> tuple[float, int, dict]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_worker_child, args=(url, env, str(instance), sendgrid_url, budget, results))
    child.start()
    child.join()  # the one small result fits the pipe: joining first cannot deadlock
    if child.exitcode != 0:
        raise RuntimeError(f"the worker process failed with exit code {child.exitcode}")
    return results.get(timeout=5)


def bench_sends(kind: str, url: str, args: argparse.Namespace) -> tuple[list[list[object]], bool]:
    rows, intact = [], True
    with tempfile.TemporaryDirectory() as folder:
        env, instance = bench_secrets(), Path(folder)
        runtime = make_runtime(url, instance, env)
        try:
            with unit_of_work(runtime.sessions) as session:
                shop = create_shop(session, runtime.box, platform="shopify", domain=SHOP_DOMAIN,
                                   name="Bench Shop", now=runtime.now(), access_token="shpat_bench")
                # Default consent, frequency cap and cooldown are checked on every send; quiet
                # hours would make the figures depend on the hour, and there is no platform
                # API here to ask about other orders (bench.discounts measures platform calls).
                shop.quiet_hours_start = shop.quiet_hours_end = 0
                shop.open_order_check, shop_id = False, shop.id
            for channel in ("sendgrid", "outbox"):
                seeded = seed_carts(runtime, shop_id, channel, args.carts, args.seed_through_services)
                print(f"{kind}: seeded {args.carts} carts ({args.seed_label}) in {seeded:.1f} s", flush=True)
                row, held = _send_with(kind, channel, runtime, env, instance, args)
                rows.append(row)
                intact &= held
        finally:
            runtime.close()
    return rows, intact


def _send_with(kind: str, channel: str, runtime, env: dict, instance: Path,
               args: argparse.Namespace) -> tuple[list[object], bool]:
    before = _sent_message_ids(runtime)
    if channel == "sendgrid":
        from tests.servers.sendgrid_api import SendGridTestServer
        with SendGridTestServer(api_key=SENDGRID_KEY) as server:
            seconds, claimed, counts = run_worker(runtime.settings.database_url, env, instance, server.url,
                                                  args.send_budget)
            received = server.count_by("message_id"), server.requests_received
    else:
        seconds, claimed, counts = run_worker(runtime.settings.database_url, env, instance, None, args.send_budget)
        received = _outbox_message_ids(runtime)
    sent = _sent_message_ids(runtime) - before
    held = counts["sent"] == claimed == len(sent) and _exactly_once(received, sent)
    rate = counts["sent"] / seconds
    return [kind, channel, counts["sent"], args.carts, f"{seconds:.1f}", rate, 1000 / rate if rate else 0.0,
            "ok" if held else "FAILED"], held


def _exactly_once(received: tuple, sent: set[str]) -> bool:
    """Each message marked sent arrived once, and nothing else arrived."""
    by_id, requests = received
    return set(by_id) == sent and set(by_id.values()) <= {1} and requests == len(sent)


def _sent_message_ids(runtime) -> set[str]:
    with unit_of_work(runtime.sessions) as session:
        return {str(i) for i in session.scalars(select(Message.id).where(Message.status == "sent"))}


def _outbox_message_ids(runtime) -> tuple[collections.Counter, int]:
    with unit_of_work(runtime.sessions) as session:
        ids = [str(i) for i in session.scalars(select(OutboxEntry.message_id))]
    return collections.Counter(ids), len(ids)


# -- (b) time to find the due steps ------------------------------------------------------

# Per cart i: bucket b = i % 100 picks the life it had. Buckets: < 55 expired (steps sent),
# < 75 converted (cancelled, has an order), < 80 recovered (step 1 sent, has an order),
# < 85 open (steps pending, future), else abandoned (step 1 sent, 2-3 pending, future);
# b = 99 among the first 100 * DUE_CARTS carts: step 1 pending and due an hour ago.
_CARTS_SQL = """
INSERT INTO carts (id, shop_id, external_id, cart_token, email, first_name, customer_id, locale, currency,
                   subtotal, total, recovery_url, state, platform_updated_at, abandon_at, abandoned_at,
                   closed_at, order_id, created_at, updated_at)
{numbers} SELECT i, :shop, 'bench-' || i, 'ct-' || i, 'buyer' || i || '@example.com', 'Anna',
    CAST(i AS VARCHAR(20)), 'en', 'USD', '98.00', '98.00', 'https://shop.example/r/' || i,
    CASE WHEN b < 55 THEN 'expired' WHEN b < 75 THEN 'converted' WHEN b < 80 THEN 'recovered'
         WHEN b < 85 THEN 'open' ELSE 'abandoned' END,
    {left}, {left_plus_hour}, CASE WHEN b < 80 OR b >= 85 THEN {left_plus_hour} END,
    CASE WHEN b < 80 THEN {left_plus_day} END, CASE WHEN b >= 55 AND b < 80 THEN 'o' || i END, {left}, {now}
FROM (SELECT i, i % 100 AS b, {left_seconds} AS ago FROM {source}) AS c
"""
_STEPS_SQL = """
INSERT INTO reminder_steps (id, cart_id, shop_id, position, channel, due_at, status, attempts, updated_at)
{numbers} SELECT 3 * i + p - 3, i, :shop, p, 'email',
    CASE WHEN due = 1 AND p = 1 THEN {due_ago}
         WHEN b < 80 OR (b >= 85 AND p = 1) THEN {past_due} ELSE {future_due} END,
    CASE WHEN due = 1 AND p = 1 THEN 'pending' WHEN b < 55 THEN 'sent' WHEN b < 75 THEN 'cancelled'
         WHEN b < 80 THEN CASE WHEN p = 1 THEN 'sent' ELSE 'cancelled' END
         WHEN b < 85 THEN 'pending' ELSE CASE WHEN p = 1 THEN 'sent' ELSE 'pending' END END,
    CASE WHEN b < 55 OR (b >= 75 AND b < 80 AND p = 1) THEN 1 ELSE 0 END, {now}
FROM (SELECT i, i % 100 AS b, CASE WHEN i % 100 = 99 AND i <= :due_limit THEN 1 ELSE 0 END AS due
      FROM {source}) AS c,
     (SELECT 1 AS p UNION ALL SELECT 2 UNION ALL SELECT 3) AS positions
"""
_ORDERS_SQL = """
INSERT INTO orders (id, shop_id, order_id, checkout_ref, cart_token, email, customer_id, total, currency,
                    placed_at, received_at)
{numbers} SELECT i, :shop, 'o' || i, 'bench-' || i, 'ct-' || i, 'buyer' || i || '@example.com',
    CAST(i AS VARCHAR(20)), '98.00', 'USD', {now}, {now}
FROM {source} WHERE i % 100 >= 55 AND i % 100 < 80
"""


def _dialect_parts(dialect: str) -> dict[str, str]:
    """How each database counts from :lo to :hi and writes "now + N seconds" as stored."""
    if dialect == "postgresql":
        ts = "(CAST(:now AS timestamp) + ({}) * interval '1 second')"
        numbers, source = "", "generate_series(CAST(:lo AS integer), CAST(:hi AS integer)) AS g(i)"
    else:  # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text
        ts = "(strftime('%Y-%m-%d %H:%M:%S', :now_epoch + ({}), 'unixepoch') || '.000000')"
        numbers = "WITH RECURSIVE g(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM g WHERE i < :hi)"
        source = "g"
    left_seconds = "CASE WHEN i % 100 < 80 THEN -345600 - i % 7776000 WHEN i % 100 < 85 THEN -(i % 3000) " \
                   "ELSE -7200 - i % 72000 END"
    return dict(numbers=numbers, source=source, now=ts.format(0), left_seconds=left_seconds,
                left=ts.format("ago"), left_plus_hour=ts.format("ago + 3600"), left_plus_day=ts.format("ago + 86400"),
                due_ago=ts.format("-3600 - i % 600"), past_due=ts.format("-3600 - i % 7776000"),
                future_due=ts.format("3600 * p + i % 86400"))


def seed_bulk(runtime, shop_id: int, lo: int, hi: int, due_limit: int, now: datetime) -> float:
    """Carts lo..hi with their steps and orders, in one transaction; then ANALYZE. Seconds.

    Carts up to ``due_limit`` whose number ends in 99 have step 1 due. For a large batch the
    non-unique indexes are dropped first and rebuilt after, as a bulk load would."""
    began, dialect = time.perf_counter(), runtime.engine.dialect.name
    params = dict(shop=shop_id, lo=lo, hi=hi, due_limit=due_limit, now=now.replace(tzinfo=None),
                  now_epoch=int(now.timestamp()))
    statements = [text(sql.format(**_dialect_parts(dialect))) for sql in (_CARTS_SQL, _STEPS_SQL, _ORDERS_SQL)]
    indexes = [i for t in (Cart, ReminderStep, Order) for i in t.__table__.indexes] if hi - lo > 100_000 else []
    with runtime.engine.begin() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FK triggers
        else:  # the default 2 MB page cache makes every index insert a disk read
            conn.exec_driver_sql("PRAGMA cache_size = -524288")
        for index in indexes:
            index.drop(conn)
        for statement in statements:
            conn.execute(statement, params)
        for index in indexes:
            index.create(conn)
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - began


def time_claims(runtime, repeats: int, budget: float) -> tuple[float, float, int, int]:
    """Median ms of the candidate SELECT and of the whole claim, each in a transaction rolled back;
    a series stops early (after 3) once it has taken ``budget`` seconds. Also: ids claimed, runs."""
    series: dict[bool, list[float]] = {False: [], True: []}
    claimed = 0
    keys = runtime.contacts()
    for whole, timings in series.items():
        began_series = time.perf_counter()
        while len(timings) < repeats and (len(timings) < 3 or time.perf_counter() - began_series < budget):
            with runtime.sessions() as session:
                session.begin()
                began = time.perf_counter()
                if whole:
                    claimed = len(claim_due_steps(session, runtime.now(), limit=BATCH, token=new_claim_token(),
                                                  claim_seconds=300, transactional_channel=False, keys=keys))
                else:
                    _candidates(session, runtime.now(), BATCH)
                timings.append(1000 * (time.perf_counter() - began))
                session.rollback()
    return median(series[False]), median(series[True]), claimed, len(series[True])


def query_plan(runtime) -> list[str]:
    stmt = select(ReminderStep.id).where(
        ((ReminderStep.status == "pending") & (ReminderStep.due_at <= runtime.now()))
        | ((ReminderStep.status == "claimed") & (ReminderStep.claim_expires_at <= runtime.now()))
    ).order_by(ReminderStep.due_at).limit(BATCH)
    sql = str(stmt.compile(runtime.engine, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN" if runtime.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    with runtime.engine.connect() as conn:
        return [str(row[-1]) for row in conn.exec_driver_sql(f"{prefix} {sql}")]


def bench_claims(kind: str, url: str, args: argparse.Namespace) -> list[list[object]]:
    runtime = make_runtime(url, Path(tempfile.gettempdir()))
    rows, now, previous = [], datetime.now(UTC).replace(microsecond=0), 0
    try:
        with unit_of_work(runtime.sessions) as session:
            shop = create_shop(session, runtime.box, platform="shopify", domain=SHOP_DOMAIN,
                               name="Bench Shop", now=runtime.now())
            shop.quiet_hours_start = shop.quiet_hours_end = 0   # figures must not depend on the hour
            shop_id = shop.id
        for size in (args.carts_small, args.carts_large):
            seeded = seed_bulk(runtime, shop_id, previous + 1, size, min(args.carts_small, 100 * DUE_CARTS), now)
            previous = size
            find_ms, claim_ms, claimed, runs = time_claims(runtime, args.repeats, args.claim_budget)
            print(f"{kind}: {size:,} carts ({3 * size:,} steps) seeded in {seeded:.1f} s; "
                  f"claim took {claim_ms:.2f} ms for {claimed} due steps (median of {runs})", flush=True)
            rows.append([kind, f"{size:,}", find_ms, claim_ms, claimed, runs, f"{seeded:.1f}"])
        for line in query_plan(runtime):
            print(f"{kind}: candidate query plan at {args.carts_large:,}: {line}")
    finally:
        runtime.close()
    return rows


# -- the run -----------------------------------------------------------------------------

SEND_HEADERS = ["db", "channel", "sent", "seeded", "seconds", "sent/s", "ms each", "exactly once"]
CLAIM_HEADERS = ["db", "carts", "find ms", "claim ms", "claimed", "runs", "seed s"]


def bench_database_kind(kind: str, args: argparse.Namespace) -> tuple[list, list, bool]:
    with bench_database(kind, "dispatch") as url:
        print(f"-- {kind}: {database_version(url)}", flush=True)
        send_rows, intact = bench_sends(kind, url, args)
    print_table(SEND_HEADERS, send_rows)
    with bench_database(kind, "claims") as url:
        claim_rows = bench_claims(kind, url, args)
    print_table(CLAIM_HEADERS, claim_rows)
    return send_rows, claim_rows, intact


def print_verdicts(send_rows: list, claim_rows: list) -> None:
    for kind, channel, _sent, _seeded, _seconds, rate, _ms, _once in send_rows:
        target = f"(target >= {TARGET_SENT_PER_S:.0f}/s): {verdict(rate >= TARGET_SENT_PER_S)}" \
            if channel == "sendgrid" else "(second figure, no target)"
        print(f"{kind}: {channel} {rate:.0f} reminders/s {target}")
    for small, large in zip(claim_rows[::2], claim_rows[1::2]):
        ratio, find_ratio = large[3] / small[3], large[2] / small[2]
        print(f"{small[0]}: claim {small[3]:.2f} ms at {small[1]} -> {large[3]:.2f} ms at {large[1]} carts, "
              f"ratio {ratio:.2f} (target <= {TARGET_CLAIM_RATIO}): {verdict(ratio <= TARGET_CLAIM_RATIO)}; "
              f"candidate SELECT alone {small[2]:.2f} -> {large[2]:.2f} ms, ratio {find_ratio:.2f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_db_argument(parser)
    parser.add_argument("--carts", type=int, default=2000, help="carts with a due step, per channel")
    parser.add_argument("--send-budget", type=float, default=12.0,
                        help="seconds after which the worker takes no new batch, per channel")
    parser.add_argument("--seed-through-services", action="store_true",
                        help="seed (a) through apply_event instead of bulk rows (slower)")
    parser.add_argument("--carts-small", type=int, default=10_000, help="stored carts, first claim timing")
    parser.add_argument("--carts-large", type=int, default=1_000_000, help="stored carts, second claim timing")
    parser.add_argument("--repeats", type=int, default=20, help="claim timings per size (median)")
    parser.add_argument("--claim-budget", type=float, default=10.0,
                        help="seconds after which a series of claim timings stops (at least 3 runs)")
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run (100 carts, 5 s budget, 2k and 20k stored, 5 repeats)")
    args = parser.parse_args(argv)
    if args.quick:
        args.carts, args.send_budget, args.carts_small, args.carts_large, args.repeats = 100, 5.0, 2_000, 20_000, 5
    if args.carts_large <= args.carts_small:
        parser.error("--carts-large must be larger than --carts-small")
    args.seed_label = "through apply_event" if args.seed_through_services else "bulk rows as observe_cart writes them"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_header("cartbridge reminder dispatch", databases=args.db, worker_batch=BATCH,
                 sends=f"{args.carts} due carts per channel, seeded as {args.seed_label}; sendgrid to a local "
                       f"server, then the dev outbox; no new batch after {args.send_budget:g} s",
                 claim_timing=f"{args.carts_small:,} then {args.carts_large:,} stored carts, 3 steps each, "
                              f"{min(DUE_CARTS, args.carts_small // 100)} due; median of up to {args.repeats}",
                 targets=f">= {TARGET_SENT_PER_S:.0f} sent/s via sendgrid; claim at {args.carts_large:,} <= "
                         f"{TARGET_CLAIM_RATIO}x claim at {args.carts_small:,}")
    sends, claims, intact = [], [], True
    for kind in chosen_databases(args.db):
        send_rows, claim_rows, held = bench_database_kind(kind, args)
        sends, claims, intact = sends + send_rows, claims + claim_rows, intact and held
    print("== summary")
    print_table(SEND_HEADERS, sends)
    print_table(CLAIM_HEADERS, claims)
    print_verdicts(sends, claims)
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
