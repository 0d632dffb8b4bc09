"""Sending claimed reminder steps and recording what happened, a batch at a time.

Per chunk of claimed steps: (1) one transaction checks each claim is still ours,
renders, and creates the messages (one per step: a unique key) and their attempt rows
with no outcome yet; (2) the provider calls run in a small thread pool; (3) one
transaction records every outcome on its attempt, message and step. Chunks are
pipelined: the next is prepared while the current one's calls are in flight. For the
transactional dev outbox, all of it is one transaction per batch.

An attempt row is committed before its provider call, so a worker that dies mid-call
leaves evidence: its steps become ``unknown`` instead of being sent again (see claims).

Outcomes: sent -> done (the cart expires when no step is left); retry -> back to
pending after capped, jittered backoff; failed -> final; unknown -> the provider may
have accepted it, so it is never sent again automatically.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from bridge.channels.base import Channel, Outcome, SendResult
from bridge.contacts import UnsubscribeLinks
from bridge.db.engine import unit_of_work
from bridge.services.claims import claim_due_steps, new_claim_token
from bridge.services.discount_codes import plan_codes, record_codes, run_code_job
from bridge.services.open_orders import plan_checks, record_checks, run_check
from bridge.services.outcomes import PreparedSend, prepare_batch, record_batch
from bridge.services.store_access import StoreAccess

log = logging.getLogger(__name__)


@dataclass
class Dispatcher:
    sessions: sessionmaker[Session]
    channel_for: Callable[[Session | None], Channel]   # the outbox needs the session; SendGrid ignores it
    transactional: bool
    mail_from: str
    now: Callable[[], datetime]
    # Contact hashes (opt-outs, frequency cap) and the unsubscribe link every message carries.
    links: UnsubscribeLinks
    claim_seconds: int = 300
    # Provider calls at once (SEND_CONCURRENCY): the real API takes 100-300 ms a call, so
    # this bounds a worker's rate; it is also how many a crash can leave as "unknown" (x2).
    in_flight: int = 32
    counts: dict = field(default_factory=lambda: {o.value: 0 for o in Outcome})
    # Discount codes: created on the shop's platform before a step that offers one is
    # rendered (None: steps go out without codes, e.g. in unit-level tests).
    access: StoreAccess | None = None
    code_secret: bytes = b""
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)

    def dispatch_due(self, limit: int = 100) -> int:
        """Claim a batch of due steps and send them; returns how many were claimed."""
        token = new_claim_token()
        with unit_of_work(self.sessions) as session:
            ids = claim_due_steps(session, self.now(), limit=limit, token=token, claim_seconds=self.claim_seconds,
                                  transactional_channel=self.transactional, keys=self.links.keys)
        if ids and self.transactional:
            self._send_in_one_transaction(ids, token)
        elif ids:
            self._send_pipelined([ids[i:i + self.in_flight] for i in range(0, len(ids), self.in_flight)], token)
        return len(ids)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _send_in_one_transaction(self, ids: list[int], token: str) -> None:
        self._before_send(ids, token)
        with unit_of_work(self.sessions) as session:
            prepared = prepare_batch(session, ids, token, self.mail_from, self.now(), self._connectors(), self.links)
            channel = self.channel_for(session)
            results = [(item, channel.send(item.outbound), 0) for item in prepared]
            record_batch(session, results, self.now())
        self._count(results)

    def _send_pipelined(self, chunks: list[list[int]], token: str) -> None:
        """Chunk k+1 is prepared, and chunk k recorded, while chunk k+1's calls are in flight.

        So at most two chunks are ever between "attempt recorded" and "outcome recorded":
        what a crash can leave as ``unknown``.
        """
        channel, pool = self.channel_for(None), self._threads()
        in_flight: list[Future] = []
        for chunk in [*chunks, []]:
            prepared = self._prepare(chunk, token) if chunk else []
            finished = [future.result() for future in in_flight]
            in_flight = [pool.submit(_timed, channel, item) for item in prepared]
            if finished:
                with unit_of_work(self.sessions) as session:
                    record_batch(session, finished, self.now())
                self._count(finished)

    def _prepare(self, ids: list[int], token: str) -> list[PreparedSend]:
        self._before_send(ids, token)
        with unit_of_work(self.sessions) as session:
            return prepare_batch(session, ids, token, self.mail_from, self.now(), self._connectors(), self.links)

    def _before_send(self, ids: list[int], token: str) -> None:
        """The platform calls a claimed step needs: is another order open? then its code."""
        if self.access is not None:
            self._check_open_orders(ids, token)
            self._secure_codes(ids, token)

    def _check_open_orders(self, ids: list[int], token: str) -> None:
        with unit_of_work(self.sessions) as session:
            jobs = plan_checks(session, ids, token, self.access, self.now())
        if not jobs:
            return
        outcomes = list(self._threads().map(lambda job: run_check(job, self.access), jobs))
        with unit_of_work(self.sessions) as session:
            record_checks(session, outcomes, token, self.now())

    def _secure_codes(self, ids: list[int], token: str) -> None:
        """Create the codes these steps offer (record intent, call the platforms, record outcome)."""
        with unit_of_work(self.sessions) as session:
            jobs = plan_codes(session, ids, token, self.code_secret, self.access, self.now())
        if not jobs:
            return
        outcomes = list(self._threads().map(lambda job: run_code_job(job, self.access), jobs))
        with unit_of_work(self.sessions) as session:
            record_codes(session, outcomes, self.now())

    def _connectors(self):
        return self.access.connectors if self.access is not None else None

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="send")
        return self._pool

    def _count(self, results) -> None:
        for _message, result, _ms in results:
            self.counts[result.outcome.value] += 1


def _timed(channel: Channel, item: PreparedSend) -> tuple[PreparedSend, SendResult, int]:
    started = time.monotonic()
    result = channel.send(item.outbound)
    return item, result, int((time.monotonic() - started) * 1000)
