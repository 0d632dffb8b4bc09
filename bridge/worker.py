"""The worker: drain the inbox and the provider events, check enrolled shops' webhooks
and reconcile them with their platforms (``bridge.services.sync_schedule`` says which
shops), declare idle carts abandoned, send what is due, delete expired unused discount
codes from the platforms, and once a day purge what is past retention.

``run(..., once=True)`` does one pass until nothing is due (cron, Heroku Scheduler,
tests); otherwise it loops, sleeping ``WORKER_POLL_SECONDS`` when idle, and stops
cleanly after the current pass on SIGTERM/SIGINT. Every timer lives in the database,
so any number of workers can run and any of them can die at any moment.
"""
from __future__ import annotations

import logging
import signal
import threading
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, TypeVar

from bridge.db.engine import unit_of_work
from bridge.runtime import Runtime
from bridge.services.carts import mark_abandoned
from bridge.services.discount_cleanup import clean_expired_codes
from bridge.services.dispatch import Dispatcher
from bridge.services.inbox import process_inbox
from bridge.services.provider_events import process_provider_events
from bridge.services.retention import run_if_due
from bridge.services.store_access import StoreAccess
from bridge.services.sync import sync_due
from bridge.services.webhook_health import health_due
from connectors.registry import CONNECTORS

log = logging.getLogger(__name__)
BATCH = 64  # claimed per round: two chunks at the default SEND_CONCURRENCY
T = TypeVar("T")


@dataclass
class PassReport:
    deliveries: int = 0
    abandoned: int = 0
    claimed: int = 0
    codes_cleaned: int = 0
    provider_events: int = 0
    purged: int = 0
    # Platform housekeeping: counted, but never a reason to skip the idle sleep.
    webhooks_checked: int = 0   # shops whose webhooks were listed (and mended)
    synced: int = 0             # shops reconciled
    synced_records: int = 0     # records reconciliation found that the inbox did not hold


def run_pass(runtime: Runtime, dispatcher: Dispatcher, *, max_batches: int = 1000) -> PassReport:
    report = PassReport()
    report.deliveries = process_inbox(runtime.sessions, CONNECTORS, runtime.now, runtime.contacts()).total
    _platform_housekeeping(runtime, dispatcher.access or runtime.store_access(), report)
    report.provider_events = process_provider_events(runtime.sessions, runtime.contacts(), runtime.now)
    with unit_of_work(runtime.sessions) as session:
        report.abandoned = mark_abandoned(session, runtime.now())
    for _ in range(max_batches):
        claimed = dispatcher.dispatch_due(limit=BATCH)
        report.claimed += claimed
        if claimed < BATCH:
            break
    if dispatcher.access is not None:
        report.codes_cleaned = clean_expired_codes(runtime.sessions, dispatcher.access, runtime.now())
    purged = run_if_due(runtime.sessions, runtime.now(), runtime.settings.retention_days)
    report.purged = sum(purged.values()) if purged else 0
    return report


def _platform_housekeeping(runtime: Runtime, access: StoreAccess, report: PassReport) -> None:
    """Webhook health, then reconciliation; what it finds is applied in this same pass."""
    settings, now = runtime.settings, runtime.now()
    checked = _guarded("webhook_health", lambda: health_due(
        runtime.sessions, access, CONNECTORS, settings.public_url, now,
        timedelta(minutes=settings.webhook_health_minutes)), [])
    synced = _guarded("sync", lambda: sync_due(
        runtime.sessions, access, CONNECTORS, now, timedelta(minutes=settings.sync_interval_minutes)), [])
    report.webhooks_checked, report.synced = len(checked), len(synced)
    report.synced_records = sum(result.stored for result in synced)
    if report.synced_records:
        report.deliveries += process_inbox(runtime.sessions, CONNECTORS, runtime.now, runtime.contacts()).total


def _guarded(job: str, work: Callable[[], T], fallback: T) -> T:
    """A database or platform outage in a housekeeping job must not stop sending."""
    try:
        return work()
    except Exception as exc:
        log.error("%s job failed: %s\n%s", job, type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)),
                  extra={"code": f"{job}_job_failed"})
        return fallback


def run(runtime: Runtime, *, once: bool = False, stop: threading.Event | None = None,
        dispatcher: Dispatcher | None = None) -> PassReport:
    stop = stop or threading.Event()
    owned = dispatcher is None
    dispatcher = dispatcher or runtime.dispatcher()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        return _loop(runtime, dispatcher, once, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if owned:
            dispatcher.close()


def _loop(runtime: Runtime, dispatcher: Dispatcher, once: bool, stop: threading.Event) -> PassReport:
    total = PassReport()
    while True:
        report = run_pass(runtime, dispatcher)
        for name, value in report.__dict__.items():
            setattr(total, name, getattr(total, name) + value)
        if any(report.__dict__.values()):
            log.info("worker pass", extra={"code": "worker_pass", **report.__dict__})
        if once or stop.is_set():
            return total
        if not (report.deliveries or report.claimed or report.provider_events):
            stop.wait(runtime.settings.worker_poll_seconds)
            if stop.is_set():
                return total
