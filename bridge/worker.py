"""The worker: drain the inbox and the provider events, declare idle carts abandoned,
send what is due, delete expired unused discount codes from the platforms, and once a
day purge what is past retention.

``run(..., once=True)`` does one pass until nothing is due (cron, Heroku Scheduler,
tests); otherwise it loops, sleeping ``WORKER_POLL_SECONDS`` when idle, and stops
cleanly after the current pass on SIGTERM/SIGINT. Every timer lives in the database,
so any number of workers can run and any of them can die at any moment.
"""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass

from bridge.db.engine import unit_of_work
from bridge.runtime import Runtime
from bridge.services.carts import mark_abandoned
from bridge.services.discount_cleanup import clean_expired_codes
from bridge.services.dispatch import Dispatcher
from bridge.services.inbox import process_inbox
from bridge.services.provider_events import process_provider_events
from bridge.services.retention import run_if_due
from connectors.registry import CONNECTORS

log = logging.getLogger(__name__)
BATCH = 64  # claimed per round: two chunks at the default SEND_CONCURRENCY


@dataclass
class PassReport:
    deliveries: int = 0
    abandoned: int = 0
    claimed: int = 0
    codes_cleaned: int = 0
    provider_events: int = 0
    purged: int = 0


def run_pass(runtime: Runtime, dispatcher: Dispatcher, *, max_batches: int = 1000) -> PassReport:
    report = PassReport()
    report.deliveries = process_inbox(runtime.sessions, CONNECTORS, runtime.now, runtime.contacts()).total
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
