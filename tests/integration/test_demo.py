"""The README's run command: `cartbridge demo` runs the whole loop on the embedded default."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_demo_delivers_reminders_to_the_outbox_and_stops_the_buyers_sequence(tmp_path):
    # given an empty instance folder and no settings at all (no DATABASE_URL, no keys)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "SENDGRID", "SHOPIFY"))}
    env["CARTBRIDGE_INSTANCE"] = str(tmp_path / "instance")
    # when the demo runs to the point where the buyer's order has been seen
    done = subprocess.run([sys.executable, "-m", "bridge", "demo", "--exit", "--port", str(_free_port())],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    # then it succeeded, every sample webhook was stored, six first reminders landed and Bob's stopped
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("HTTP 200 stored") == 6
    assert "6 reminders in the outbox" in done.stdout
    assert "Bob's remaining reminders were cancelled" in done.stdout
    # and the outbox command shows them from the same instance
    outbox = subprocess.run([sys.executable, "-m", "bridge", "outbox"], env=env, capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert "Linen Shirt" in outbox.stdout and "Вишиванка" in outbox.stdout
