"""``cartbridge sync SHOP [--since 7d]``: read what changed in one shop now, with a progress bar.

The records go into the inbox like webhooks do, and the worker applies them. The first run
for a shop added with ``cartbridge shops add`` enrolls it in reconciliation: from then on
the worker reads it every ``SYNC_INTERVAL_MINUTES`` too (bridge/services/sync_schedule.py).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Iterator

import click

from bridge.cli import _runtime, cli
from bridge.db.engine import unit_of_work
from bridge.db.tables import Shop, ShopSync
from bridge.services.shops import find_shop
from bridge.services.sync import Progress, sync_shop
from bridge.services.sync_schedule import claim_sync, enroll, release_sync
from connectors.registry import CONNECTORS

SPAN = re.compile(r"(\d+)\s*([dhm])")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}
SINCE_HELP = ("read records changed since then: a span (7d, 36h, 90m) or a UTC date (2026-11-01); "
              "default: since the last sync (BACKFILL_DAYS for the first)")


def parse_since(value: str, now: datetime) -> datetime:
    """``7d`` / ``36h`` / ``90m`` back from ``now``, or a date or ISO moment (UTC unless it says)."""
    text = value.strip().lower()
    span = SPAN.fullmatch(text)
    if span:
        return now - timedelta(**{UNITS[span[2]]: int(span[1])})
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a span like 7d, 36h or 90m nor a date like 2026-11-01",
                                 param_hint="--since") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment > now:
        raise click.BadParameter(f"{value!r} lies in the future", param_hint="--since")
    return moment


@cli.command("sync")
@click.argument("shop_ref")
@click.option("--since", default=None, help=SINCE_HELP)
def sync(shop_ref: str, since: str | None) -> None:
    """Read what changed in a shop (by id or domain) into the inbox now."""
    runtime = _runtime()
    now = runtime.now()
    start = parse_since(since, now) if since else None
    with unit_of_work(runtime.sessions) as session:
        shop = _syncable(session, shop_ref)
        first = session.get(ShopSync, shop.id) is None
        enroll(session, shop.id, now, backfill=timedelta(days=runtime.settings.backfill_days) if first else None,
               due_now=False)
        if not claim_sync(session, shop.id, now):
            raise click.ClickException(f"a worker is reading {shop.domain} right now; try again in a few minutes")
        shop_id, label = shop.id, f"reading {shop.domain}"
    try:
        with _progress(label) as progress:
            result = sync_shop(runtime.sessions, runtime.store_access(), CONNECTORS, shop_id, now,
                               since=start, progress=progress)
    finally:
        release_sync(runtime.sessions, shop_id, now + timedelta(minutes=runtime.settings.sync_interval_minutes))
    counts = f"{result.read} records read, {result.stored} new, {result.skipped} skipped"
    if result.error:
        raise click.ClickException(f"{counts}; the sync stopped: {result.error}")
    click.echo(f"{counts}; the worker applies them")


def _syncable(session, ref: str) -> Shop:
    shop = find_shop(session, ref)
    if shop is None:
        raise click.ClickException(f"no shop {ref!r} (give its id or domain; see `cartbridge shops list`)")
    if shop.status == "redacted":
        raise click.ClickException(f"{shop.domain} was erased at the platform's request; nothing to read")
    if shop.uninstalled_at is not None or shop.status != "active":
        raise click.ClickException(f"{shop.domain} is {shop.status}: install or connect it again first")
    if shop.access_token_enc is None and shop.consumer_key_enc is None:
        raise click.ClickException(f"{shop.domain} has no API credentials: install the app or connect the store "
                                   "(or add it with `cartbridge shops add` and its token or keys)")
    return shop


@contextmanager
def _progress(label: str) -> Iterator[Progress]:
    """A bar as long as the platform's total when it gives one, else a record counter."""
    unsized = (item for item in ())   # no length: click shows a counter until a total is known
    with click.progressbar(unsized, label=label, show_pos=True, show_eta=False) as bar:
        def advance(records: int, total: int | None) -> None:
            if total is not None:
                bar.length = total
            bar.update(records)
        yield advance
