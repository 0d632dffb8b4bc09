"""What the worker does with each provider answer, through the real `sendgrid` library."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bridge.channels.sendgrid import SendGridChannel
from bridge.db.engine import unit_of_work
from bridge.db.tables import Message, MessageAttempt, OutboxEntry, ReminderStep
from bridge.worker import run
from tests.servers.sendgrid_api import SendGridTestServer
from tests.support.shops import add_shopify_shop, checkout, post_shopify

KEY = "SG.dispatch-outcomes"


def _due_first_step(runtime, client, clock) -> None:
    add_shopify_shop(runtime)
    post_shopify(client, "checkouts/create", checkout("tok-d", clock()), webhook_id="w1")
    run(runtime, once=True)
    clock.advance(minutes=61)


def _step1(runtime) -> ReminderStep:
    with unit_of_work(runtime.sessions) as session:
        return session.scalars(select(ReminderStep).where(ReminderStep.position == 1)).one()


def _attempts(runtime) -> list[MessageAttempt]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(MessageAttempt).order_by(MessageAttempt.number)))


def test_rate_limited_send_is_retried_later_and_then_sent_once(runtime, client, clock):
    # given a due reminder and SendGrid answering 429 once, then accepting
    _due_first_step(runtime, client, clock)
    with SendGridTestServer(KEY) as server:
        server.fail_next(status=429, retry_after=120)
        dispatcher = runtime.dispatcher(SendGridChannel(KEY, host=server.url, timeout=5))
        # when the worker runs now, and again after the retry delay
        run(runtime, once=True, dispatcher=dispatcher)
        step = _step1(runtime)
        assert step.status == "pending" and step.due_at >= clock() + timedelta(seconds=120)
        clock.current = step.due_at + timedelta(seconds=1)
        run(runtime, once=True, dispatcher=dispatcher)
        # then it was sent on the second attempt, once, with the same message id
        assert len(server.accepted) == 1
    assert [(a.number, a.outcome, a.status_code) for a in _attempts(runtime)] == [
        (1, "retry", 429), (2, "sent", 202)]
    assert _step1(runtime).status == "sent"


def test_rejected_send_is_final_and_recorded_with_the_providers_reason(runtime, client, clock):
    # given SendGrid rejecting the request (400)
    _due_first_step(runtime, client, clock)
    with SendGridTestServer(KEY) as server:
        server.fail_next(status=400, message="The from address does not match a verified Sender Identity.")
        dispatcher = runtime.dispatcher(SendGridChannel(KEY, host=server.url, timeout=5))
        # when the worker runs, and again a day later
        run(runtime, once=True, dispatcher=dispatcher)
        clock.advance(days=1)
        run(runtime, once=True, dispatcher=dispatcher)
    # then step 1 failed once with the reason, and was not retried
    step = _step1(runtime)
    assert step.status == "failed" and "Sender Identity" in step.reason
    assert [(a.number, a.outcome) for a in _attempts(runtime)][:1] == [(1, "failed")]
    assert sum(1 for a in _attempts(runtime) if a.outcome == "failed") == 1


def test_timed_out_send_is_marked_unknown_and_never_repeated(runtime, client, clock):
    # given SendGrid accepting the request but answering after the client gave up
    _due_first_step(runtime, client, clock)
    with SendGridTestServer(KEY) as server:
        server.delay_next(3)
        dispatcher = runtime.dispatcher(SendGridChannel(KEY, host=server.url, timeout=1))
        # when the worker runs, and again later
        run(runtime, once=True, dispatcher=dispatcher)
        clock.advance(minutes=30)
        run(runtime, once=True, dispatcher=dispatcher)
        # then the provider got it once, and the step says why it is not resent
        assert server.count_by("step")["1"] == 1
    step = _step1(runtime)
    assert step.status == "unknown" and "not resent" in step.reason


def test_claim_of_a_worker_that_died_before_calling_the_provider_is_taken_over(runtime, client, clock):
    # given a step claimed by a worker that died before it rendered or sent anything
    _due_first_step(runtime, client, clock)
    with unit_of_work(runtime.sessions) as session:
        step = session.scalars(select(ReminderStep).where(ReminderStep.position == 1)).one()
        step.status, step.claim_token, step.claim_expires_at = "claimed", "dead-worker", clock() + timedelta(minutes=5)
    # when a worker runs before the claim expires, and again after
    run(runtime, once=True)
    assert _step1(runtime).status == "claimed"
    clock.advance(minutes=6)
    run(runtime, once=True)
    # then the step was sent once, by the second worker
    assert _step1(runtime).status == "sent"
    with unit_of_work(runtime.sessions) as session:
        assert len(session.scalars(select(OutboxEntry)).all()) == 1
        assert session.scalars(select(Message.status)).all() == ["sent"]
