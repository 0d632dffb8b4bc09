"""Several real worker processes share the due steps: each reminder is sent exactly once.

The workers are the real `cartbridge worker --once` command, sending through the real
`sendgrid` library to a local SendGrid-compatible server that counts what it accepts.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Message, MessageAttempt, ReminderStep, Shop
from bridge.model import CartObserved, CartSnapshot, Contact, LineItem
from bridge.services.carts import observe_cart
from tests.servers.sendgrid_api import SendGridTestServer
from tests.support.shops import add_shopify_shop

API_KEY = "SG.test-key-for-worker-processes"


def _seed_due_carts(runtime, count: int) -> None:
    """``count`` carts left two hours ago: exactly one step (the 1 h one) is due for each."""
    shop_id = add_shopify_shop(runtime)
    left = datetime.now(UTC) - timedelta(hours=2)
    with unit_of_work(runtime.sessions) as session:
        shop = session.get(Shop, shop_id)
        for n in range(count):
            snapshot = CartSnapshot(
                external_id=f"tok-{n}", contact=Contact(email=f"c{n}@example.com", first_name="Ann"),
                currency="USD", line_items=(LineItem("Mug", 1, Decimal("12.00")),),
                subtotal=Decimal("12.00"), total=Decimal("12.00"), updated_at=left,
                recovery_url=f"https://x.myshopify.com/recover/{n}")
            observe_cart(session, shop, CartObserved(snapshot), datetime.now(UTC), runtime.contacts())


def _worker_env(runtime, server: SendGridTestServer, **extra) -> dict:
    settings = runtime.settings
    return {**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
            "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "SENDGRID_API_KEY": API_KEY,
            "SENDGRID_API_HOST": server.url, "MAIL_FROM": "shop@example.com",
            "CARTBRIDGE_INSTANCE": str(settings.instance_path), **extra}


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bridge", "worker", "--once"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# PostgreSQL is where many workers run: 4 processes over 1000 steps. SQLite (the embedded
# default, one worker) must still never double-send if two run: its lock is not fair, so a
# busy writer can starve others past the busy timeout; 2 processes over 300 steps stay clear of it.
LOADS = {"postgresql": (4, 1000), "sqlite": (2, 300)}


@pytest.mark.slow
def test_concurrent_worker_processes_send_each_due_reminder_exactly_once(runtime):
    # given many carts with a due reminder and a SendGrid-compatible server
    processes, steps = LOADS[runtime.engine.dialect.name]
    _seed_due_carts(runtime, steps)
    with SendGridTestServer(API_KEY) as server:
        # when several worker processes run at the same time
        env = _worker_env(runtime, server)
        workers = [_worker(env) for _ in range(processes)]
        outputs = [w.communicate(timeout=300) for w in workers]
        # then every process succeeded and between them they claimed every step once
        assert [w.returncode for w in workers] == [0] * processes, [err[-2000:] for _, err in outputs]
        claimed = [int(re.search(r"steps claimed (\d+)", out).group(1)) for out, _ in outputs]
        assert sum(claimed) == steps
        # and the provider received each message exactly once
        per_message = server.count_by("message_id")
        assert len(per_message) == steps and set(per_message.values()) == {1}
    with unit_of_work(runtime.sessions) as session:
        assert session.scalar(select(func.count()).where(ReminderStep.status == "sent")) == steps
        assert session.scalar(select(func.count()).select_from(MessageAttempt)) == steps
    if runtime.engine.dialect.name == "postgresql":
        assert sum(1 for c in claimed if c > 0) >= 2, f"work was not shared: {claimed}"


@pytest.mark.slow
def test_worker_killed_during_the_provider_call_does_not_cause_a_second_send(runtime):
    # given one due reminder and a provider that will hang on the next request
    _seed_due_carts(runtime, 1)
    with SendGridTestServer(API_KEY) as server:
        server.delay_next(30)
        env = _worker_env(runtime, server, CLAIM_SECONDS="1")
        worker = _worker(env)
        # when the worker is killed while the provider holds its request
        deadline = time.monotonic() + 60
        while server.requests_received == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.requests_received == 1
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)
        # and, after its claim expired, another worker runs
        time.sleep(1.5)
        second = _worker(env)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err[-2000:]
        # then the message is not sent again: the step is marked unknown, with why
        assert server.requests_received == 1
    with unit_of_work(runtime.sessions) as session:
        step = session.scalars(select(ReminderStep).where(ReminderStep.position == 1)).one()
        assert step.status == "unknown" and "not resent" in step.reason
        assert session.scalars(select(Message.status)).one() == "unknown"
