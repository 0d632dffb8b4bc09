"""What every local API server in tests/servers shares: an HTTP/1.1 server on 127.0.0.1 in
a thread, a clean start/stop (usable as a context manager), and a queue of scripted faults
played one per request. Each server adds its API in ``_handle(rq)``.
"""
from __future__ import annotations

import collections
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour: an error status, a late answer, a dropped connection, or
    (Shopify) a drained cost bucket. A server reads only the fields it supports."""
    status: int | None = None
    retry_after: float | None = None
    message: str | None = None
    delay: float = 0.0
    drop: bool = False
    throttle: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = False      # server_close() joins handler threads: no socket outlives us
    block_on_close = True
    request_queue_size = 128    # several worker processes may connect at once
    owner: "LocalServer"

    def handle_error(self, request, client_address):
        # A client that gave up (timeout test) is expected; anything else is printed.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10                # a stuck client must not hold up shutdown
    server: _Server

    def _dispatch(self) -> None:
        if self.command not in self.server.owner.METHODS:
            self.send_error(405)
            return
        self.server.owner._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format, *args) -> None:   # keep test output clean
        pass


class LocalServer:
    METHODS: tuple[str, ...] = ("POST",)

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._address = (host, 0)
        self._lock = threading.Lock()
        self._faults: collections.deque[Fault] = collections.deque()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self):
        self._httpd = _Server(self._address, Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()                # cut short any delay_next() still sleeping
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()          # closes the listener, joins handler threads
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _push(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def _next_fault(self) -> Fault | None:
        """The next scripted fault; call with ``self._lock`` held."""
        return self._faults.popleft() if self._faults else None

    def _pause(self, fault: Fault) -> None:
        """A late answer: the work is done, the reply waits (cut short by ``stop``)."""
        if fault.delay:
            self._stopping.wait(fault.delay)

    def _handle(self, rq: Handler) -> None:
        raise NotImplementedError
