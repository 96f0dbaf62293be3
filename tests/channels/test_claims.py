"""Claims, leases and provider outages on the send path, against real SMTP servers on
loopback: a slow server outliving the lease, a server that is down for a while, and a
sender that is alive but slow while another task looks at its claims."""

import collections
import contextlib
import datetime as dt
import smtplib
import socket
import threading

import psycopg
import pytest
from django.utils import timezone

from apps.channels import claims, sending
from apps.channels.models import ChannelConfig, Delivery, Message
from bench.smtpsink import SmtpSink, _free_port
from tests.channels.delivery_rows import make_delivery
from tests.conftest import _database_url_for_subprocess
from tests.waiting import wait_for

CONTENT = {"from_email": "news@travel.test", "subject": "Hi", "html": "<p>Hello</p>"}


def copies_by_recipient(sink):
    return collections.Counter(r.rcpt_tos[0] for r in sink.received())


@pytest.mark.worker
def test_a_server_slower_than_the_lease_gets_every_message_exactly_once(workspace, start_worker):
    # given: a server that takes 0.3 s per message, chunks of 20 (6 s each) and a 2 s lease
    with SmtpSink(delay=0.3) as sink:
        ChannelConfig.objects.create(workspace=workspace, channel="email", options={
            "host": "127.0.0.1", "port": sink.port, "lease_seconds": 2}, from_email="news@travel.test",
            chunk_size=20, parallel_tasks=2)
        delivery = make_delivery(workspace, statuses={"queued": 40}, content=CONTENT)
        addresses = set(Message.objects.filter(delivery=delivery).values_list("address", flat=True))
        start_worker(concurrency=4, name="slow0@%h")
        # when: two tasks send (with spare worker processes) while beat sweeps every half second
        sending.dispatch(delivery)

        def finished():
            sending.sweep()
            return Delivery.objects.get(pk=delivery.pk).status == "done"

        assert wait_for(finished, seconds=90, step=0.5), collections.Counter(
            Message.objects.filter(delivery=delivery).values_list("status", flat=True))
        # then: every message reached the server exactly once, recorded once, one attempt each
        assert copies_by_recipient(sink) == {address: 1 for address in addresses}
        assert set(Message.objects.filter(delivery=delivery).values_list("status", "attempts")) == {("sent", 1)}


@pytest.mark.django_db(transaction=True)
def test_a_live_senders_claims_are_not_taken_over_after_the_lease_and_a_dead_ones_are(workspace, sink,
                                                                                        email_config, monkeypatch):
    monkeypatch.setattr(sending, "DISPATCH", lambda _pk: None)
    delivery = make_delivery(workspace, statuses={"queued": 3}, content=CONTENT)
    # given: a sender in another process (its own connection) holds a claim whose lease ended
    owner = psycopg.connect(_database_url_for_subprocess(), autocommit=True)
    live = claims.Claim(delivery.pk, lease=1)
    owner.execute("SELECT pg_advisory_lock(%s)", [live.token])
    Message.objects.filter(delivery=delivery).update(
        status="sending", claim_token=live.token, lease_until=timezone.now() - dt.timedelta(seconds=5))
    try:
        # when: another task and the sweeper look at the delivery
        totals = sending.send_some(delivery.pk)
        swept = sending.sweep()
        # then: nothing is taken over from the live sender
        assert totals == {"sent": 0, "failed": 0, "deferred": 0, "excluded": 0}
        assert swept["dispatched"] == 0
        assert sink.received() == []
        assert set(Message.objects.filter(delivery=delivery).values_list("status", "claim_token")) == {
            ("sending", live.token)}
    finally:
        owner.close()  # the sender dies: PostgreSQL drops its lock
    # and once it is dead, its claims are taken over at once (the lease plays no part)
    assert wait_for(lambda: claims.orphaned(delivery.pk), seconds=10, step=0.05)
    assert sending.sweep()["dispatched"] == 1
    assert sending.send_some(delivery.pk)["sent"] == 3
    assert copies_by_recipient(sink) == {m.address: 1 for m in Message.objects.filter(delivery=delivery)}
    assert set(Message.objects.filter(delivery=delivery).values_list("status", "attempts")) == {("sent", 1)}


def test_a_taken_over_message_cannot_be_recorded_by_its_former_owner(workspace):
    delivery = make_delivery(workspace, statuses={"queued": 1}, content=CONTENT)
    first = claims.Claim(delivery.pk, lease=60)
    first.open()
    [pk] = first.claim(10)
    first.close()  # dies before recording
    second = claims.Claim(delivery.pk, lease=60)
    second.open()
    try:
        assert second.claim(10) == [pk]
        assert sending._mark(pk, "sent", token=first.token, attempt=True) is False
        assert sending._mark(pk, "sent", token=second.token, attempt=True) is True
    finally:
        second.close()
    message = Message.objects.get(pk=pk)
    assert (message.status, message.attempts, message.claim_token) == ("sent", 1, None)


@pytest.mark.django_db(transaction=True)
def test_a_server_down_for_a_while_pauses_the_delivery_and_uses_no_attempt(workspace, settings, monkeypatch):
    settings.SEND_OUTAGE_BACKOFF_SECONDS = 10
    settings.SEND_OUTAGE_BACKOFF_MAX_SECONDS = 25
    monkeypatch.setattr(sending, "DISPATCH", lambda _pk: None)
    # given: the configured server is down (nothing listens on its port yet)
    sink = SmtpSink(port=_free_port())
    ChannelConfig.objects.create(workspace=workspace, channel="email", options={
        "host": "127.0.0.1", "port": sink.port, "timeout": 2}, from_email="news@travel.test", chunk_size=4,
        max_attempts=2)
    delivery = make_delivery(workspace, statuses={"queued": 10}, content=CONTENT)

    def state():
        return set(Message.objects.filter(delivery=delivery).values_list("status", "attempts"))

    # when: a task tries to send, three times in a row (each time the pause has ended)
    pauses = []
    for _ in range(3):
        before = timezone.now()
        assert sending.send_some(delivery.pk) == {"sent": 0, "failed": 0, "deferred": 0, "excluded": 0}
        paused = Delivery.objects.get(pk=delivery.pk)
        pauses.append(round((paused.paused_until - before).total_seconds()))
        # then: the chunk went back untouched: no attempt used, nothing claimed
        assert state() == {("queued", 0)}
        # a task arriving during the pause does nothing; the sweeper does not dispatch
        assert sending.send_some(delivery.pk)["sent"] == 0
        assert sending.sweep()["dispatched"] == 0
        Delivery.objects.filter(pk=delivery.pk).update(paused_until=timezone.now())
    # the pause doubles per failed connection, up to the cap, and the delivery says so
    assert pauses == [10, 20, 25]
    paused = Delivery.objects.get(pk=delivery.pk)
    assert paused.outage_failures == 3 and paused.status == "sending"
    assert paused.outage_error.startswith("connection ConnectionRefusedError")
    assert paused.outage_note.startswith(
        f"Provider unreachable since {paused.outage_since:%Y-%m-%d %H:%M:%S} UTC (3 failed connections: "
        "connection ConnectionRefusedError")
    assert paused.outage_note.endswith(f", retrying at {paused.paused_until:%Y-%m-%d %H:%M:%S} UTC.")
    # when: the server is back and the pause ends
    with sink:
        assert sending.sweep()["dispatched"] == 1
        totals = sending.send_some(delivery.pk)
        # then: every message is delivered once, with one attempt (the one that worked)
        assert totals["sent"] == 10
        assert copies_by_recipient(sink) == {m.address: 1 for m in Message.objects.filter(delivery=delivery)}
    assert state() == {("sent", 1)}
    done = Delivery.objects.get(pk=delivery.pk)
    assert (done.status, done.outage_since, done.outage_failures, done.paused_until, done.outage_note) == (
        "done", None, 0, None, "")


class ScriptedServer:
    """A TCP server on loopback that answers an SMTP client from a script: the greeting,
    then one reply per command (by its first word)."""

    def __init__(self, greeting: bytes, replies: dict[bytes, bytes] | None = None):
        self.greeting, self.replies = greeting, replies or {}
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.sock.accept()
            with conn, conn.makefile("rb") as lines:
                conn.sendall(self.greeting)
                for line in lines:
                    reply = self.replies.get(line.split()[0].upper() if line.split() else b"", b"250 OK\r\n")
                    conn.sendall(reply)
                    if reply.startswith(b"421"):
                        return

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("greeting,replies,code,text", [
    (b"421 4.3.2 Service not available, closing channel\r\n", {}, "421",
     "4.3.2 Service not available, closing channel"),
    (b"220 ready\r\n", {b"EHLO": b"250-ready\r\n250 AUTH PLAIN\r\n",
                         b"AUTH": b"454 4.7.0 Temporary authentication failure\r\n"}, "454",
     "4.7.0 Temporary authentication failure"),
])
def test_a_refused_greeting_or_login_is_the_providers_outage(workspace, greeting, replies, code, text):
    from apps.channels.providers import Outgoing, ProviderDown
    from apps.channels.providers.email import EmailProvider

    server = ScriptedServer(greeting, replies)
    config = ChannelConfig(workspace=workspace, channel="email", options={
        "host": "127.0.0.1", "port": server.port, "username": "agency", "timeout": 5})
    config.secret = "s3cret"
    config.save()
    delivery = make_delivery(workspace, statuses={"queued": 1}, content=CONTENT)
    provider = EmailProvider(delivery, config)
    try:
        with pytest.raises(ProviderDown) as caught:
            provider.begin(Outgoing(id=1, address="a@example.test", message_id="<1@travel.test>",
                                    fields={"subject": "Hi", "html": "<p>Hi</p>"}, context={}))
    finally:
        provider.close()
        server.close()
    assert (caught.value.code, caught.value.text) == (code, text)


def test_a_421_reply_is_an_outage_and_a_451_to_one_recipient_is_that_messages_retry():
    from apps.channels.providers import ProviderDown, Retryable
    from apps.channels.providers.email import classify

    problem = classify(smtplib.SMTPRecipientsRefused({"a@example.test": (421, b"4.7.0 too busy, closing")}))
    assert isinstance(problem, ProviderDown) and (problem.code, problem.text) == ("421", "4.7.0 too busy, closing")
    problem = classify(smtplib.SMTPRecipientsRefused({"a@example.test": (451, b"4.3.0 try later")}))
    assert type(problem) is Retryable and (problem.code, problem.text) == ("451", "4.3.0 try later")
    problem = classify(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
    assert isinstance(problem, ProviderDown) and problem.code == "connection"


def test_at_the_end_of_the_window_a_dead_senders_claims_expire_and_a_live_ones_finish(workspace):
    delivery = make_delivery(workspace, statuses={"queued": 3}, content=CONTENT)
    dead = claims.Claim(delivery.pk, lease=600)
    dead.open()
    dead.claim(2)
    dead.close()
    Delivery.objects.filter(pk=delivery.pk).update(expires_at=timezone.now())
    assert sending.expire(Delivery.objects.get(pk=delivery.pk)) == 3
    assert set(Message.objects.filter(delivery=delivery).values_list("status", "reason", "claim_token")) == {
        ("expired", "window_ended", None)}
    assert Delivery.objects.get(pk=delivery.pk).status == "expired"
