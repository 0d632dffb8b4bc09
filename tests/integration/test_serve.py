"""`cartbridge serve` (gunicorn): a delivery answered 200 survives the web process dying at once."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from sqlalchemy import select

from bridge.db.engine import unit_of_work
from bridge.db.tables import Delivery
from tests.conftest import SHOPIFY_SECRET
from tests.support.fixtures import shopify_headers
from tests.support.shops import SHOP_DOMAIN, add_shopify_shop, checkout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(runtime, port: int) -> subprocess.Popen:
    settings = runtime.settings
    env = {**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
           "ENCRYPTION_KEYS": ",".join(settings.encryption_keys), "SHOPIFY_API_SECRET": SHOPIFY_SECRET,
           "CARTBRIDGE_INSTANCE": str(settings.instance_path)}
    server = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--port", str(port), "--workers", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    pytest.fail("cartbridge serve did not start")


@pytest.mark.slow
def test_delivery_answered_200_is_kept_when_the_web_process_is_killed_right_after(runtime, clock):
    # given a shop and the real web process
    add_shopify_shop(runtime)
    port = _free_port()
    server = _start(runtime, port)
    try:
        raw = json.dumps(checkout("tok-kill", clock())).encode()
        headers = shopify_headers("checkouts/create", raw, SHOPIFY_SECRET,
                                  {"X-Shopify-Webhook-Id": "kill-1", "X-Shopify-Shop-Domain": SHOP_DOMAIN})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/shopify", data=raw,
                                         headers=headers, method="POST")
        # when a delivery is answered 200 and the whole process group is killed at once
        with urllib.request.urlopen(request, timeout=10) as response:
            status = response.status
        os.killpg(server.pid, signal.SIGKILL)
    finally:
        server.wait(timeout=10)
    # then the delivery is in the inbox, byte for byte
    assert status == 200
    with unit_of_work(runtime.sessions) as session:
        stored = session.scalars(select(Delivery)).one()
    assert (stored.delivery_key, stored.body) == ("kill-1", raw)
