"""The killed-worker test for SMS: a real worker (two processes) sends 1,500 SMS through
the Vonage SDK to the loopback gateway and is killed with SIGKILL twice. Afterwards every
recipient got its SMS, every copy it got carries the one client-ref of its message (the
message id: a resend after a crash is the same message), raw copies are at most one per
killed process (the message in flight when it died) and the ledger agrees."""

import collections
import time

import pytest
from django.db import transaction
from psycopg import sql

from apps.channels import ledger, sending, services
from apps.channels.models import ChannelConfig, Delivery, Message
from apps.core.sqlutil import execute, workspace_schema
from apps.datamodel.schema import Schema
from apps.demo.generate import generate
from bench.smsgateway import SmsGateway
from tests.channels.test_crash import SWEEP_EVERY, kill
from tests.waiting import wait_for

RECIPIENTS = 1500
KILLS = 2
PROCESSES = 2


@pytest.mark.worker
def test_killed_sms_workers_never_lose_nor_duplicate_a_message(workspace, start_worker):
    generate(workspace=workspace, profiles=RECIPIENTS)
    schema_name = workspace_schema(workspace.pk)
    execute(sql.SQL("UPDATE {} SET phone = '+44791' || lpad(customer_id::text, 7, '0')").format(
        sql.Identifier(schema_name, "customer")))
    execute(sql.SQL("CREATE TABLE {} AS SELECT customer_id AS key FROM {}").format(
        sql.Identifier(schema_name, "crash_work"), sql.Identifier(schema_name, "customer")))
    with SmsGateway(vonage=("abc123key", "secret")) as gateway:
        # Throttled (the sender's throughput) so that the kills land while most is unsent: an
        # unthrottled worker can send everything between the check and the kill.
        config = ChannelConfig(workspace=workspace, channel="sms", backend="vonage", chunk_size=50,
                               parallel_tasks=PROCESSES, rate_per_second=150, options={
                                   "account": "abc123key", "sender": "Travel", "sender_kind": "alphanumeric",
                                   "base_url": gateway.url})
        config.secret = "secret"
        config.save()
        schema = Schema.load(workspace)
        audience = ledger.audience_for(workspace, schema, "sms", schema.entities["customer"], {})
        worker = start_worker(concurrency=PROCESSES, name="smscrash0@%h")
        scratch = sql.Identifier(schema_name, "crash_classified")
        with transaction.atomic():
            ledger.classify_into(audience, sql.Identifier(schema_name, "crash_work"), scratch, execute)
            delivery = services.delivery_create(
                workspace=workspace, channel="sms", name="crash", options=services.delivery_options(
                    audience, {}, "crash_work", [], {}),
                content={"text": "Hi {{ profile.first_name }}"},
                classified=sql.SQL("SELECT target_key, profile_key, address, reason, defer_until FROM {}").format(
                    scratch))
        assert delivery.counts["queued"] == RECIPIENTS, delivery.counts

        def swept_until(predicate, seconds):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                sending.sweep()
                if wait_for(predicate, seconds=SWEEP_EVERY, step=0.05):
                    return True
            return False

        for number in range(1, KILLS + 1):
            assert swept_until(lambda n=number: gateway.count >= n * RECIPIENTS // (KILLS + 2), seconds=120), (
                gateway.count, Delivery.objects.filter(pk=delivery.pk).values(
                    "status", "outage_error", "paused_until").get())
            kill(worker)
            at_kill = gateway.count
            worker = start_worker(concurrency=PROCESSES, name=f"smscrash{number}@%h")
            assert swept_until(lambda n=at_kill: gateway.count >= min(n + 20, RECIPIENTS), seconds=30), gateway.count
        assert swept_until(lambda: Delivery.objects.get(pk=delivery.pk).status == "done", seconds=120), \
            collections.Counter(Message.objects.filter(delivery=delivery).values_list("status", flat=True))
        received = list(gateway.messages)
    refs, copies = collections.defaultdict(set), collections.Counter()
    for sms in received:
        refs["+" + sms.to].add(sms.reference)
        copies["+" + sms.to] += 1
    ledger_refs = {m.address: str(m.pk) for m in Message.objects.filter(delivery=delivery)}
    assert set(Message.objects.filter(delivery=delivery).values_list("status", flat=True)) == {"sent"}
    assert set(refs) == set(ledger_refs) and len(refs) == RECIPIENTS  # none missing
    assert {addr: {ref} for addr, ref in ledger_refs.items()} == dict(refs)  # one client-ref each, the ledger's
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= KILLS * PROCESSES, duplicates
