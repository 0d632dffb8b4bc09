"""SendGridChannel driving the real ``sendgrid`` library against a local v3 Mail Send server."""
import logging
import socket
import threading

import pytest

from bridge.channels.base import OutboundMessage, Outcome
from bridge.channels.sendgrid import SendGridChannel
from tests.servers.sendgrid_api import SendGridTestServer

API_KEY = "SG.cartbridge-test.Zq81xVb3-very-secret-key"
UNSUBSCRIBE = {"List-Unsubscribe": "<https://shop.example/u/abc>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def make_message(**overrides) -> OutboundMessage:
    fields = dict(message_id="msg-1", shop_id=7, cart_id=42, step=2,
                  to_email="olena@example.com", to_name="Olena",
                  from_email="shop@example.com", from_name="Example Shop",
                  subject="You left something behind", text="Your cart is waiting.",
                  html="<p>Your cart is <b>waiting</b>.</p>", headers=UNSUBSCRIBE,
                  categories=("winback",))
    fields.update(overrides)
    return OutboundMessage(**fields)


@pytest.fixture
def server():
    with SendGridTestServer(api_key=API_KEY) as srv:
        yield srv


@pytest.fixture
def channel(server):
    return SendGridChannel(API_KEY, host=server.url, timeout=2.0)


@pytest.fixture
def closed_port_url():
    """A loopback port nobody listens on: connect() is refused at once."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def stalled_listener_url():
    """A listener whose accept queue is full and never drained. Linux drops further SYNs,
    so a new connect() hangs until the client's timeout: a genuine connect timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        while len(fillers) < 16:
            filler = socket.socket()
            filler.settimeout(0.3)
            fillers.append(filler)
            try:
                filler.connect(listener.getsockname())
            except TimeoutError:
                break                       # the queue is full: SYNs are now dropped
        else:
            pytest.skip("this OS does not stall connects to a full accept queue")
        yield "http://127.0.0.1:%d" % listener.getsockname()[1]
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


def test_an_accepted_message_is_sent_with_sendgrids_message_id(server, channel):
    # given a reminder for step 2 of cart 42
    message = make_message()
    # when it is sent
    result = channel.send(message)
    # then SendGrid's X-Message-Id comes back and SendGrid got the whole message
    assert result.outcome is Outcome.SENT
    assert result.status_code == 202
    [mail] = server.accepted
    assert result.provider_message_id == mail.x_message_id
    body = mail.body
    assert body["custom_args"] == {"message_id": "msg-1", "shop_id": "7", "cart_id": "42",
                                   "step": "2"}
    assert body["categories"] == ["cartbridge", "step-2", "winback"]
    assert body["content"] == [{"type": "text/plain", "value": "Your cart is waiting."},
                               {"type": "text/html", "value": "<p>Your cart is <b>waiting</b>.</p>"}]
    assert body["personalizations"] == [{"to": [{"email": "olena@example.com", "name": "Olena"}]}]
    assert body["from"] == {"email": "shop@example.com", "name": "Example Shop"}
    assert body["subject"] == "You left something behind"
    assert body["headers"] == UNSUBSCRIBE
    assert "asm" not in body


def test_each_send_gets_its_own_sendgrid_message_id(server, channel):
    # given two different reminders
    # when both are sent
    first = channel.send(make_message(message_id="msg-a"))
    second = channel.send(make_message(message_id="msg-b"))
    # then each has a distinct provider id
    assert first.provider_message_id != second.provider_message_id
    assert server.count_by("message_id") == {"msg-a": 1, "msg-b": 1}


def test_a_wrong_api_key_fails_with_401_and_the_error_does_not_show_the_key(server):
    # given a channel with a key SendGrid does not know
    wrong_key = "SG.wrong-key-that-must-stay-secret"
    channel = SendGridChannel(wrong_key, host=server.url)
    # when it sends
    result = channel.send(make_message())
    # then it is a final failure that names the reason but not the key
    assert result.outcome is Outcome.FAILED
    assert result.status_code == 401
    assert "authorization grant is invalid" in result.error
    assert wrong_key not in result.error and API_KEY not in result.error
    assert server.accepted == []


def test_a_message_sendgrid_rejects_fails_with_the_field_named(server, channel):
    # given a reminder whose sender address is not an address
    message = make_message(from_email="shop-at-example")
    # when it is sent
    result = channel.send(message)
    # then it fails for good, naming SendGrid's field, without echoing the body
    assert result.outcome is Outcome.FAILED
    assert result.status_code == 400
    assert "from.email" in result.error
    assert "Your cart is waiting" not in result.error
    assert server.accepted == []


def test_a_rate_limited_send_is_retried_after_the_time_sendgrid_asks_for(server, channel):
    # given SendGrid is rate limiting and asks for 2 seconds
    server.fail_next(status=429, retry_after=2)
    # when a reminder is sent
    result = channel.send(make_message())
    # then the worker is told to retry, and when
    assert result.outcome is Outcome.RETRY
    assert result.status_code == 429
    assert result.retry_after == 2.0
    # and the next attempt goes through
    assert channel.send(make_message()).outcome is Outcome.SENT


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_sendgrid_server_error_is_retried(server, channel, status):
    # given SendGrid fails with a 5xx
    server.fail_next(status=status)
    # when a reminder is sent
    result = channel.send(make_message())
    # then it is retryable and nothing was accepted
    assert result.outcome is Outcome.RETRY
    assert result.status_code == status
    assert result.retry_after is None
    assert server.accepted == []


def test_a_gateway_timeout_is_unknown_not_retried(server, channel):
    # given SendGrid's edge answers 504 (its backend may still have taken the message)
    server.fail_next(status=504)
    # when a reminder is sent
    result = channel.send(make_message())
    # then the worker is told the outcome is unknown, so it will not send it again
    assert result.outcome is Outcome.UNKNOWN
    assert result.status_code == 504


def test_a_refused_connection_is_retried(closed_port_url):
    # given nothing listens on the configured host
    channel = SendGridChannel(API_KEY, host=closed_port_url, timeout=2.0)
    # when a reminder is sent
    result = channel.send(make_message())
    # then it is safe to retry: the request never left this machine
    assert result.outcome is Outcome.RETRY
    assert result.status_code is None
    assert "ConnectionRefusedError" in result.error


def test_a_connect_timeout_is_retried(stalled_listener_url):
    # given a host that never completes the TCP handshake
    channel = SendGridChannel(API_KEY, host=stalled_listener_url, timeout=0.5)
    # when a reminder is sent
    result = channel.send(make_message())
    # then it is retryable: a timeout while connecting means nothing was sent
    assert result.outcome is Outcome.RETRY
    assert "TimeoutError" in result.error


def test_a_slow_answer_is_unknown_although_sendgrid_recorded_the_message(server):
    # given SendGrid accepts the message but answers after the client gave up
    channel = SendGridChannel(API_KEY, host=server.url, timeout=0.5)
    server.delay_next(seconds=10)
    # when a reminder is sent
    result = channel.send(make_message(message_id="msg-slow"))
    # then the outcome is unknown ...
    assert result.outcome is Outcome.UNKNOWN
    assert "may have accepted" in result.error
    # ... because SendGrid has it: resending would deliver it twice
    assert server.count_by("message_id") == {"msg-slow": 1}


def test_a_connection_dropped_after_the_request_is_unknown(server, channel):
    # given SendGrid reads the request, queues the message and drops the connection
    server.drop_next()
    # when a reminder is sent
    result = channel.send(make_message(message_id="msg-dropped"))
    # then the outcome is unknown and the message was in fact accepted
    assert result.outcome is Outcome.UNKNOWN
    assert server.count_by("message_id") == {"msg-dropped": 1}


def test_the_eu_host_is_only_configuration(server):
    # given a channel configured with another host name for the same API (as for
    # https://api.eu.sendgrid.com), written with a trailing slash
    port = server.url.rsplit(":", 1)[1]
    channel = SendGridChannel(API_KEY, host=f"http://localhost:{port}/")
    # when a reminder is sent
    result = channel.send(make_message())
    # then it reaches the configured host and succeeds
    assert result.outcome is Outcome.SENT
    assert len(server.accepted) == 1
    assert server.accepted[0].headers["Host"] == f"localhost:{port}"


def test_the_real_eu_host_is_accepted_and_plain_http_is_refused_off_loopback():
    # given / when / then: https hosts are fine; the key is never sent in clear text
    SendGridChannel(API_KEY, host="https://api.eu.sendgrid.com")
    with pytest.raises(ValueError):
        SendGridChannel(API_KEY, host="http://api.eu.sendgrid.com")
    with pytest.raises(ValueError):
        SendGridChannel("", host="https://api.sendgrid.com")


def test_the_unsubscribe_group_is_passed(server):
    # given a channel configured with an ASM unsubscribe group
    channel = SendGridChannel(API_KEY, host=server.url, asm_group_id=4321)
    # when a reminder is sent
    assert channel.send(make_message()).outcome is Outcome.SENT
    # then SendGrid gets the group id
    assert server.accepted[0].body["asm"] == {"group_id": 4321}


def test_categories_are_cut_to_sendgrids_limits(server, channel):
    # given more categories than SendGrid allows, one of them too long, one repeated
    extra = ("x" * 300, "winback", "winback", *(f"c{i}" for i in range(12)))
    # when the reminder is sent
    result = channel.send(make_message(categories=extra))
    # then SendGrid accepts it with 10 categories of at most 255 characters, ours first
    assert result.outcome is Outcome.SENT
    categories = server.accepted[0].body["categories"]
    assert len(categories) == 10
    assert categories[:4] == ["cartbridge", "step-2", "x" * 255, "winback"]


def test_one_channel_can_be_shared_by_threads(server, channel):
    # given 4 threads each sending 5 different reminders through one channel
    def send_five(worker: int) -> None:
        for n in range(5):
            assert channel.send(make_message(message_id=f"w{worker}-{n}")).outcome is Outcome.SENT
    threads = [threading.Thread(target=send_five, args=(w,)) for w in range(4)]
    # when they all run at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then each reminder was accepted exactly once, each with its own provider id
    counts = server.count_by("message_id")
    assert len(counts) == 20 and set(counts.values()) == {1}
    assert len({mail.x_message_id for mail in server.accepted}) == 20


def test_the_api_key_never_appears_in_any_log_record(server, caplog):
    # given every logger at DEBUG (python_http_client logs request headers there)
    caplog.set_level(logging.DEBUG)
    channel = SendGridChannel(API_KEY, host=server.url, timeout=0.5)
    message = make_message()
    # when sends end in every way: sent, rate limited, rejected, maybe sent
    channel.send(message)
    server.fail_next(status=429, retry_after=1)
    channel.send(message)
    SendGridChannel(API_KEY + "x", host=server.url).send(message)
    server.delay_next(seconds=10)
    channel.send(message)
    # then no record carries the key, the recipient or the message text
    ours = [r for r in caplog.records if r.name == "bridge.channels.sendgrid"]
    assert len(ours) == 4
    assert all(r.message_id == "msg-1" and r.code.startswith("sendgrid_") for r in ours)
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert API_KEY not in text
        assert "olena@example.com" not in text and "Your cart is waiting" not in text
