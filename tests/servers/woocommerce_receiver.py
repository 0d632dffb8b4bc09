"""A stand-in for the endpoints a WooCommerce store POSTs to (the key callback, webhook pings and
deliveries) in client tests that run without the app: it records every request and answers with
scripted statuses (200 unless told otherwise).

``with Receiver() as app, WooCommerceTestServer(resolve={"https://cartbridge.test": app.url})``
"""
from __future__ import annotations

import collections
from dataclasses import dataclass

from tests.servers._local import Handler, LocalServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver(LocalServer):
    METHODS = ("POST",)

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self._answers: collections.deque[int] = collections.deque()
        self._received: list[Received] = []
        self.default_status = 200

    def answer_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status``."""
        with self._lock:
            self._answers.extend([status] * times)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def _handle(self, rq: Handler) -> None:
        body = rq.rfile.read(int(rq.headers.get("Content-Length") or 0))
        with self._lock:
            self._received.append(Received(rq.command, rq.path, dict(rq.headers.items()), body))
            status = self._answers.popleft() if self._answers else self.default_status
        rq.close_connection = True
        rq.send_response(status)
        rq.send_header("Content-Length", "0")
        rq.send_header("Connection", "close")
        rq.end_headers()
