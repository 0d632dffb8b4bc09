"""Reconciliation throughput: records read back from a platform and applied, against the same
records arriving as signed webhooks.

Per database and platform, a local API holds N records changed in the last two hours: WooCommerce
``pending`` orders (``tests.servers.woocommerce_api``, from the ``order_updated__pending`` fixture)
or Shopify abandoned checkouts (``tests.servers.shopify_admin``, a Shopify Plus cost bucket). In a
fresh database a shop is connected through the real install services, then:

- sync: ``sync_shop`` reads the backfill window into the inbox over real HTTP through the real
  client libraries (``read``), then ``process_inbox`` applies it (``apply``);
- webhooks (baseline): in a second fresh database and shop, the very bodies the sync stored are
  posted as signed webhooks through the Flask test client (``intake``; in-process, no socket),
  then ``process_inbox`` applies them;
- re-sync: the same window read again; every record is known, so 0 are stored (asserted).

The ratio is (sync read + apply) / (webhook intake + apply) wall time. The Shopify client waits
for the cost bucket rather than be throttled: at large N its read rate is the platform's limit
(printed), not cartbridge's, and it is most of a full run's time.

    python -m bench.sync [--db sqlite|postgresql|both] [--records 2000] [--quick] [--platform shopify|woocommerce|both]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import select

from bench._common import (SHOPIFY_SECRET, add_db_argument, bench_database, chosen_databases, database_version,
                           make_runtime, print_header, print_table, verdict)
from bridge.app import create_app
from bridge.db.engine import unit_of_work
from bridge.db.tables import Delivery
from bridge.services.inbox import process_inbox
from bridge.services.install import connect_woocommerce, install_shopify
from bridge.services.sync import sync_shop
from connectors.base import PlatformHttp, TokenSet
from connectors.registry import CONNECTORS
from connectors.shopify_sync import CHECKOUTS_COST, ORDERS_COST
from tests.servers.shopify_admin import ShopifyAdminServer
from tests.servers.woocommerce_api import WooCommerceTestServer
from tests.support.fixtures import load_fixture, shopify_headers, woocommerce_headers

TIMEOUT = 10.0
WINDOW = timedelta(days=7)           # the install's backfill (BACKFILL_DAYS), read again by the re-sync
SCOPES = "read_orders,write_discounts,read_customers"
# Shopify Plus restores 1000 points/s: https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
BUCKET, RESTORE = 20000, 1000


@dataclass
class Store:
    """One platform's local API with N records, and how to connect a shop to it."""
    http: PlatformHttp
    connect: Callable                # (session, box, now) -> Shop
    calls: Callable[[], int]         # reconciliation requests the API has seen so far


@contextmanager
def local_store(platform: str, label: str, records: int, first: datetime) -> Iterator[Store]:
    if platform == "shopify":
        with ShopifyAdminServer(app_key="bench-app") as server, server.http_client(timeout=TIMEOUT) as http:
            grant = server.add_shop(label, maximum_available=BUCKET, restore_rate=RESTORE)
            for i in range(records):
                at = first + timedelta(seconds=i)
                server.add_checkout(label, email=f"buyer{i}@example.com", created_at=at, updated_at=at)
            yield Store(PlatformHttp(http, TIMEOUT, "2026-10"), lambda session, box, now: install_shopify(
                session, box, domain=grant.domain, tokens=TokenSet(grant.access_token), scopes=SCOPES, now=now,
                managed_by="shopify"), lambda: server.count("abandonedCheckouts") + server.count("orders"))
        return
    with WooCommerceTestServer() as server:
        template = json.loads(load_fixture("woocommerce", "order_updated__pending.json"))
        fields = {k: v for k, v in template.items() if k not in ("status", "date_created", "date_modified")}
        for i in range(records):
            at, email = (first + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S"), f"buyer{i}@example.com"
            server.add_order(status="pending", email=email, **{
                **fields, "id": 50000 + i, "number": str(50000 + i), "billing": {**template["billing"], "email": email},
                "order_key": f"wc_order_bench{i}", "date_created_gmt": at, "date_modified_gmt": at})
        key = server.add_key()
        yield Store(PlatformHttp(None, TIMEOUT, "2026-10"), lambda session, box, now: connect_woocommerce(
            session, box, url=server.url, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret,
            now=now), lambda: server.count("orders"))


def timed(work: Callable):
    started = time.perf_counter()
    return work(), time.perf_counter() - started


def apply_all(runtime) -> int:
    """Worker inbox passes until nothing is pending; the deliveries processed."""
    processed = 0
    while (report := process_inbox(runtime.sessions, CONNECTORS, runtime.now, runtime.contacts())).total:
        processed += report.processed
    return processed


def sync_round(url: str, store: Store) -> dict:
    """Install, sync the backfill window, apply it, sync the same window again."""
    with tempfile.TemporaryDirectory() as folder:
        runtime = make_runtime(url, Path(folder))
        runtime.platform_http = store.http
        try:
            with unit_of_work(runtime.sessions) as session:
                shop_id = store.connect(session, runtime.box, runtime.now()).id
            access, window = runtime.store_access(), runtime.now() - WINDOW
            before = store.calls()
            read, read_s = timed(lambda: sync_shop(runtime.sessions, access, CONNECTORS, shop_id, runtime.now()))
            calls = store.calls() - before
            applied, apply_s = timed(lambda: apply_all(runtime))
            again, again_s = timed(lambda: sync_shop(runtime.sessions, access, CONNECTORS, shop_id, runtime.now(),
                                                     since=window))
            with unit_of_work(runtime.sessions) as session:
                bodies = [(d.topic, d.body) for d in session.scalars(select(Delivery).order_by(Delivery.id))]
        finally:
            runtime.close()
    assert read.error is None and again.error is None, (read.error, again.error)
    return dict(stored=read.stored, read_s=read_s, applied=applied, apply_s=apply_s, calls=calls, bodies=bodies,
                again=again, again_s=again_s, again_calls=store.calls() - before - calls)


def webhook_round(url: str, platform: str, bodies: list[tuple[str, bytes]]) -> dict:
    """The same bodies as signed webhooks into a fresh shop, then applied."""
    with tempfile.TemporaryDirectory() as folder:
        runtime = make_runtime(url, Path(folder))
        try:
            post = _poster(runtime, platform)
            client = create_app(runtime=runtime).test_client()
            answers, intake_s = timed(lambda: [post(client, topic, raw).status_code for topic, raw in bodies])
            applied, apply_s = timed(lambda: apply_all(runtime))
        finally:
            runtime.close()
    return dict(ok=answers.count(200), intake_s=intake_s, applied=applied, apply_s=apply_s)


def _poster(runtime, platform: str) -> Callable:
    """A second shop, and a function posting one signed delivery to it as the platform would."""
    with unit_of_work(runtime.sessions) as session:
        if platform == "shopify":
            domain = "sync-bench-webhooks.myshopify.com"
            install_shopify(session, runtime.box, domain=domain, tokens=TokenSet("shpat_unused"), scopes=SCOPES,
                            now=runtime.now(), managed_by="shopify")
            return lambda client, topic, raw: client.post("/webhooks/shopify", data=raw, headers=shopify_headers(
                topic, raw, SHOPIFY_SECRET, {"X-Shopify-Shop-Domain": domain,
                                             "X-Shopify-Webhook-Id": str(uuid.uuid4())}))
        shop = connect_woocommerce(session, runtime.box, url="https://webhooks.example.com", consumer_key="ck_unused",
                                   consumer_secret="cs_unused", now=runtime.now())
        path, secret = f"/webhooks/woocommerce/{shop.id}", runtime.box.open(shop.webhook_secret_enc)
    return lambda client, topic, raw: client.post(path, data=raw, headers=woocommerce_headers(
        topic, raw, secret, {"X-WC-Webhook-Source": "https://webhooks.example.com/"}))


def one_platform(kind: str, platform: str, records: int) -> tuple[list[list[object]], list[str], bool]:
    """The three rows of one platform on one database, its ratio lines, and whether nothing went missing."""
    # Records from two hours ago on, one second apart: all inside the backfill window, none in the future.
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    with local_store(platform, f"sync-bench-{kind}", records, first) as store, bench_database(kind, "sync") as url:
        synced = sync_round(url, store)
    with bench_database(kind, "sync") as url:
        hooks = webhook_round(url, platform, synced["bodies"])
    again = synced["again"]
    print(f"{kind} {platform}: re-sync of the same window read {again.read} records in {synced['again_s']:.2f} s "
          f"({synced['again_calls']} API calls), stored {again.stored} new (must be 0)", flush=True)
    assert again.stored == 0 and again.known == records, again
    sync_total, hook_total = synced["read_s"] + synced["apply_s"], hooks["intake_s"] + hooks["apply_s"]
    lines = [f"{kind} {platform}: (sync read + apply) / (webhook intake + apply) = {sync_total / hook_total:.2f}"]
    # Shopify's requested cost, the checkout pages and the one (empty) orders page, beyond a full bucket.
    floor = max(0.0, (synced["calls"] - 1) * CHECKOUTS_COST + ORDERS_COST - BUCKET) / RESTORE
    if platform == "shopify" and floor:
        lines.append(f"{kind} shopify: of the read, >= {floor:.1f} s is waiting for the cost bucket (a fresh "
                     f"{BUCKET}-point bucket); without it the ratio is {(sync_total - floor) / hook_total:.2f}")
    rows = [[platform, "sync", records, synced["stored"], synced["read_s"], records / synced["read_s"],
             synced["apply_s"], synced["applied"] / synced["apply_s"], sync_total, 100 * synced["calls"] / records],
            [platform, "webhooks", records, hooks["ok"], hooks["intake_s"], records / hooks["intake_s"],
             hooks["apply_s"], hooks["applied"] / hooks["apply_s"], hook_total, 0.0],
            [platform, "re-sync", records, again.stored, synced["again_s"], again.read / synced["again_s"],
             "-", "-", synced["again_s"], 100 * synced["again_calls"] / records]]
    return rows, lines, synced["stored"] == synced["applied"] == hooks["ok"] == hooks["applied"] == records


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_db_argument(parser)
    parser.add_argument("--records", type=int, default=2000, help="records on the platform (default 2000)")
    parser.add_argument("--platform", choices=("shopify", "woocommerce", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="200 records, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.records = 200
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    platforms = ("shopify", "woocommerce") if args.platform == "both" else (args.platform,)
    print_header("reconciliation: read back + apply vs the same records as webhooks", records=args.records,
                 shopify_bucket=f"{BUCKET} points, restoring {RESTORE}/s (Shopify Plus)")
    ok = True
    for kind in chosen_databases(args.db):
        with bench_database(kind, "sync") as url:
            print(f"-- {database_version(url)}", flush=True)
        rows, lines = [], []
        for platform in platforms:
            platform_rows, platform_lines, held = one_platform(kind, platform, args.records)
            rows, lines, ok = rows + platform_rows, lines + platform_lines, ok and held
        print_table(["platform", "path", "records", "stored/answered 200", "read/intake s", "read/intake rec/s",
                     "apply s", "apply rec/s", "total s", "API calls/100 records"], rows)
        print("\n".join(lines) + "\n", flush=True)
    print(f"every record stored once and applied on both paths, re-sync stored nothing new: {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
