"""A local SendGrid v3 Mail Send API (``POST /v3/mail/send``) for integration tests.

It checks the key and validates bodies the way the docs describe, answers 202 with a unique
``X-Message-Id``, records every accepted message, and plays scripted faults in order:
``fail_next(status=429, retry_after=2)``, ``delay_next(seconds)`` (accept and record, then
answer too late: SendGrid has the message but the client times out), ``drop_next()`` (accept
and record, then close the connection without answering).
Docs: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send and
https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors

Worker processes can share one server: hand them ``url`` and the key; the record lives in
the process that started the server.
"""
from __future__ import annotations

import collections
import json
import secrets
from dataclasses import dataclass

from tests.servers._local import Fault, Handler, LocalServer
from tests.servers.sendgrid_rules import Errors, parse_and_validate, validate_mail_send  # noqa: F401

MAX_BODY_BYTES = 30 * 1024 * 1024          # SendGrid's total message size limit
BAD_KEY = "The provided authorization grant is invalid, expired, or revoked"


@dataclass(frozen=True)
class AcceptedMail:
    x_message_id: str
    body: dict
    headers: dict[str, str]                 # request headers, Authorization left out

    def custom_args_per_email(self) -> list[dict[str, str]]:
        """Each personalization is one email; its custom_args override the top-level ones."""
        top = self.body.get("custom_args") or {}
        return [{**top, **(p.get("custom_args") or {})} for p in self.body["personalizations"]]


class SendGridTestServer(LocalServer):
    """``with SendGridTestServer(api_key="SG.test") as srv:`` then point the client at srv.url."""

    def __init__(self, api_key: str, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.api_key = api_key
        self._accepted: list[AcceptedMail] = []
        self._received = 0

    # -- scripted faults (played in order, one per request) ------------------------------
    def fail_next(self, status: int, retry_after: float | None = None,
                  message: str | None = None) -> None:
        """Answer the next request with ``status`` without looking at it."""
        if status < 400:
            raise ValueError("fail_next is for error statuses")
        self._push(Fault(status=status, retry_after=retry_after, message=message))

    def delay_next(self, seconds: float) -> None:
        """Accept and record the next valid request, then wait before answering 202."""
        self._push(Fault(delay=seconds))

    def drop_next(self) -> None:
        """Accept and record the next valid request, then close without any answer."""
        self._push(Fault(drop=True))

    # -- what the server saw -----------------------------------------------------------
    @property
    def accepted(self) -> list[AcceptedMail]:
        with self._lock:
            return list(self._accepted)

    @property
    def requests_received(self) -> int:
        with self._lock:
            return self._received

    def count_by(self, custom_arg: str) -> collections.Counter:
        """How many accepted emails carried each value of ``custom_arg`` (e.g. message_id)."""
        return collections.Counter(args[custom_arg] for mail in self.accepted
                                   for args in mail.custom_args_per_email()
                                   if custom_arg in args)

    # -- request handling --------------------------------------------------------------
    def _handle(self, rq: Handler) -> None:
        if rq.path != "/v3/mail/send":
            return _respond(rq, 404, [("Not found", None)])
        length = int(rq.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return _respond(rq, 413, [("The JSON payload is too large.", None)])
        raw = rq.rfile.read(length)
        with self._lock:
            self._received += 1
            fault = self._next_fault()
        if fault and fault.status:
            message = fault.message or f"scripted failure {fault.status}"
            return _respond(rq, fault.status, [(message, None)], fault.retry_after)
        if rq.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _respond(rq, 401, [(BAD_KEY, None)])
        errors = parse_and_validate(raw)
        if errors:
            return _respond(rq, 400, errors)
        self._accept(rq, json.loads(raw), fault or Fault())

    def _accept(self, rq: Handler, body: dict, fault: Fault) -> None:
        headers = {k: v for k, v in rq.headers.items() if k.lower() != "authorization"}
        mail = AcceptedMail(secrets.token_urlsafe(16), body, headers)
        with self._lock:
            self._accepted.append(mail)
        if fault.drop:
            rq.close_connection = True      # the server closes the socket, nothing written
            return
        self._pause(fault)
        _respond(rq, 202, None, message_id=mail.x_message_id)


def _respond(rq: Handler, status: int, errors: Errors | None,
             retry_after: float | None = None, message_id: str | None = None) -> None:
    payload = b"" if errors is None else json.dumps({"errors": [
        {"message": m, "field": f, "help": None} for m, f in errors]}).encode()
    rq.close_connection = True
    try:
        rq.send_response(status)
        if payload:
            rq.send_header("Content-Type", "application/json")
        if retry_after is not None:
            rq.send_header("Retry-After", f"{retry_after:g}")
        if message_id:
            rq.send_header("X-Message-Id", message_id)
        rq.send_header("Content-Length", str(len(payload)))
        rq.send_header("Connection", "close")
        rq.end_headers()
        rq.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass                                # the client stopped waiting (delay_next)
