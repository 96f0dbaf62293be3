"""The crash test of the messages issue: a real worker (two processes, each with its SMTP
connection) is killed with SIGKILL several times during a 5,000-message send. After
restarts every recipient has exactly one distinct Message-ID at the SMTP server, none is
missing, a message resent after a crash carries the same Message-ID, raw copies are at
most one per killed process per open connection, the ledger agrees with the server, and
each kill stalls the send for seconds (the dead claims are taken over at once), not for
a lease."""

import collections
import signal
import time

import psutil
import pytest
from django.db import transaction
from psycopg import sql

from apps.channels import ledger, sending, services
from apps.channels.models import ChannelConfig, Delivery, Message
from apps.core.periodic import PERIODIC_TASKS
from apps.core.sqlutil import execute, workspace_schema
from apps.datamodel.schema import Schema
from apps.demo.generate import generate
from tests.waiting import wait_for

RECIPIENTS = 5000
KILLS = 3
PROCESSES = 2  # worker processes, each sending over one SMTP connection
# Beat's period for the sweeper: the test sweeps as often as beat would.
SWEEP_EVERY = next(p.every_seconds for p in PERIODIC_TASKS if p.task.endswith("sweep_deliveries"))


def kill(worker) -> None:
    family = [worker.pid, *[c.pid for c in psutil.Process(worker.pid).children(recursive=True)]]
    for pid in family:
        try:
            psutil.Process(pid).send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    worker.wait(timeout=10)


@pytest.mark.worker
def test_killed_workers_never_lose_nor_duplicate_a_message(workspace, sink, start_worker):
    generate(workspace=workspace, profiles=RECIPIENTS)
    schema_name = workspace_schema(workspace.pk)
    # Unique addresses, all valid: every profile must get exactly one message.
    execute(sql.SQL("UPDATE {} SET email = 'p' || customer_id || '@example.test'").format(
        sql.Identifier(schema_name, "customer")))
    execute(sql.SQL("CREATE TABLE {} AS SELECT customer_id AS key FROM {}").format(
        sql.Identifier(schema_name, "crash_work"), sql.Identifier(schema_name, "customer")))
    # The default lease (two minutes): recovery must not wait for it.
    ChannelConfig.objects.create(workspace=workspace, channel="email", options={
        "host": "127.0.0.1", "port": sink.port}, from_email="news@travel.test",
        chunk_size=100, parallel_tasks=PROCESSES)
    schema = Schema.load(workspace)
    audience = ledger.audience_for(workspace, schema, "email", schema.entities["customer"], {})
    worker = start_worker(concurrency=PROCESSES, name="crash0@%h")
    scratch = sql.Identifier(schema_name, "crash_classified")
    with transaction.atomic():
        ledger.classify_into(audience, sql.Identifier(schema_name, "crash_work"), scratch, execute)
        delivery = services.delivery_create(
            workspace=workspace, channel="email", name="crash", options=services.delivery_options(
                audience, {}, "crash_work", [], {}),
            content={"from_email": "news@travel.test", "subject": "Hi {{ profile.first_name }}",
                     "html": "<p>Hello {{ profile.first_name }}</p>"},
            classified=sql.SQL("SELECT target_key, profile_key, address, reason, defer_until FROM {}").format(scratch))
    assert delivery.counts["queued"] == RECIPIENTS
    def swept_until(predicate, seconds):
        """Beat's part: a sweep every SWEEP_EVERY seconds until `predicate` holds."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sending.sweep()
            if wait_for(predicate, seconds=SWEEP_EVERY, step=0.05):
                return True
        return False

    stalls = []
    for number in range(1, KILLS + 1):
        # when: the worker dies without a word while it sends
        assert wait_for(lambda n=number: len(sink.received()) >= n * RECIPIENTS // (KILLS + 2), seconds=120,
                        step=0.05), len(sink.received())
        kill(worker)
        killed_at, at_kill = time.monotonic(), len(sink.received())
        worker = start_worker(concurrency=PROCESSES, name=f"crash{number}@%h")
        # then: the dead claims are taken over at once (the lease is two minutes): sending
        # goes on within seconds of the new worker being up
        assert swept_until(lambda n=at_kill: len(sink.received()) >= min(n + 50, RECIPIENTS), seconds=30), \
            len(sink.received())
        stalls.append(time.monotonic() - killed_at)
    # and everything leaves soon after the last kill
    last_kill = time.monotonic()
    assert swept_until(lambda: Delivery.objects.get(pk=delivery.pk).status == "done", seconds=90), \
        collections.Counter(Message.objects.filter(delivery=delivery).values_list("status", flat=True))
    assert time.monotonic() - last_kill < 90 and max(stalls) < 30, (stalls, time.monotonic() - last_kill)
    received = sink.received()
    ids_by_recipient = collections.defaultdict(set)
    copies = collections.Counter()
    for message in received:
        ids_by_recipient[message.rcpt_tos[0]].add(message.message_id)
        copies[message.rcpt_tos[0]] += 1
    expected = {f"p{i}@example.test" for i in range(1, RECIPIENTS + 1)}
    assert set(ids_by_recipient) == expected  # none missing
    assert all(len(ids) == 1 for ids in ids_by_recipient.values())  # one Message-ID per recipient, resent or not
    duplicates = sum(n - 1 for n in copies.values())
    # at most one raw copy per killed process per open connection (the in-flight window)
    assert duplicates <= KILLS * PROCESSES, duplicates
    ledger_ids = {m.address: sending.message_id(delivery, m.pk) for m in Message.objects.filter(delivery=delivery)}
    assert set(Message.objects.filter(delivery=delivery).values_list("status", flat=True)) == {"sent"}
    assert {addr: {mid} for addr, mid in ledger_ids.items()} == dict(ids_by_recipient)  # the ledger agrees
