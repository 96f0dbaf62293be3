"""Frequency caps under concurrency (issue #11): two deliveries to the same profiles with
a cap of one email a day, sent at the same moment by 4 real worker processes, give each
profile exactly one email; and two capped deliveries created at the same moment cannot
both count the other as absent."""

import collections
import threading
import time

import pytest
from django.db import connection, transaction
from psycopg import sql

from apps.channels import ledger, sending, services
from apps.channels.models import ChannelConfig, Delivery, Message
from apps.consent.models import FrequencyCap, RuleSet
from apps.core.sqlutil import execute, workspace_schema
from apps.datamodel.demo.generate import generate
from apps.datamodel.schema import Schema
from tests.waiting import wait_for

PROFILES = 1500
CONTENT = {"from_email": "news@travel.test", "subject": "Hi {{ profile.first_name }}", "html": "<p>Hello</p>"}


def prepare(workspace, profiles):
    generate(workspace=workspace, profiles=profiles)
    schema_name = workspace_schema(workspace.pk)
    # Unique valid addresses: each profile is one recipient.
    execute(sql.SQL("UPDATE {} SET email = 'p' || customer_id || '@example.test'").format(
        sql.Identifier(schema_name, "customer")))
    execute(sql.SQL("CREATE TABLE {} AS SELECT customer_id AS key FROM {}").format(
        sql.Identifier(schema_name, "everyone"), sql.Identifier(schema_name, "customer")))
    rules = RuleSet.objects.create(workspace=workspace, name="one a day")
    cap = FrequencyCap.objects.create(workspace=workspace, rule_set=rules, channel="email", limit=1, period="day")
    return {"rule_set_id": rules.pk}, cap


def create(workspace, settings, name):
    """Classify everyone and create the delivery (the caller holds the transaction)."""
    schema_name = workspace_schema(workspace.pk)
    schema = Schema.load(workspace)
    audience = ledger.audience_for(workspace, schema, "email", schema.entities["customer"], settings)
    scratch = sql.Identifier(schema_name, f"classified_{name}")
    ledger.classify_into(audience, sql.Identifier(schema_name, "everyone"), scratch, execute)
    return services.delivery_create(
        workspace=workspace, channel="email", name=name, content=CONTENT,
        options=services.delivery_options(audience, settings, "everyone", [], {}),
        classified=sql.SQL("SELECT target_key, profile_key, address, reason, defer_until FROM {}").format(scratch))


@pytest.mark.worker
def test_two_deliveries_sent_at_once_by_four_workers_give_each_profile_at_most_the_cap(
        workspace, sink, start_worker):
    settings, cap = prepare(workspace, PROFILES)
    # Chunks of 100: the two deliveries' tasks check and send the same profiles at once.
    ChannelConfig.objects.create(workspace=workspace, channel="email", options={
        "host": "127.0.0.1", "port": sink.port}, from_email="news@travel.test", chunk_size=100, parallel_tasks=2)
    start_worker(concurrency=2, name="capsa@%h")
    start_worker(concurrency=2, name="capsb@%h")
    # given: both deliveries queued for every profile (created under a cap of two, which
    # the marketer then lowers to one), and dispatched in the same commit
    with transaction.atomic():
        cap.limit = 2
        cap.save(update_fields=["limit"])
        first = create(workspace, settings, "first")
        second = create(workspace, settings, "second")
        assert (first.counts["queued"], second.counts["queued"]) == (PROFILES, PROFILES)
        cap.limit = 1
        cap.save(update_fields=["limit"])
    # when: 4 tasks (2 a delivery) on 4 worker processes send both at the same time
    assert wait_for(lambda: Delivery.objects.filter(pk__in=[first.pk, second.pk], status="done").count() == 2,
                    seconds=240, step=0.5), \
        collections.Counter(Message.objects.filter(workspace=workspace).values_list("status", flat=True))
    # then: every profile got exactly one email, the other was excluded by the cap
    copies = collections.Counter(m.rcpt_tos[0] for m in sink.received())
    assert sum(1 for n in copies.values() if n > 1) == 0
    assert set(copies) == {f"p{i}@example.test" for i in range(1, PROFILES + 1)}
    statuses = collections.Counter(Message.objects.filter(workspace=workspace).values_list("status", "reason"))
    assert statuses == {("sent", ""): PROFILES, ("excluded", "frequency_cap"): PROFILES}
    per_profile = collections.Counter(
        Message.objects.filter(workspace=workspace, status="sent").values_list("profile_key", flat=True))
    assert set(per_profile.values()) == {1} and len(per_profile) == PROFILES


def test_two_capped_deliveries_created_at_once_cannot_both_pass(workspace, transactional_db, monkeypatch):
    monkeypatch.setattr(sending, "DISPATCH", lambda _pk: None)
    settings, _cap = prepare(workspace, 200)
    created = threading.Event()
    results, failures = {}, []

    def first():
        try:
            with transaction.atomic():
                results["first"] = create(workspace, settings, "first")
                created.set()
                time.sleep(1.5)  # still uncommitted while the second one classifies
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)
            created.set()
        finally:
            connection.close()

    def second():
        try:
            assert created.wait(60)
            with transaction.atomic():
                results["second"] = create(workspace, settings, "second")
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    counts = {name: Delivery.objects.get(pk=d.pk).counts for name, d in results.items()}
    assert counts == {"first": {"queued": 200, "excluded": {}},
                      "second": {"queued": 0, "excluded": {"frequency_cap": 200}}}


def _statuses(delivery):
    return {m.target_key: (m.status, m.reason) for m in Message.objects.filter(delivery=delivery)}


def test_a_message_being_sent_right_now_counts_towards_the_cap(workspace, travel, email_config, sink, sends):
    from tests.channels.test_policy import create_delivery

    rules = RuleSet.objects.create(workspace=workspace, name="one a day")
    cap = FrequencyCap.objects.create(workspace=workspace, rule_set=rules, channel="email", limit=2, period="day")
    settings = {"rule_set_id": rules.pk}
    first, second = create_delivery(workspace, settings), create_delivery(workspace, settings)
    sends.pending.clear()
    cap.limit = 1
    cap.save(update_fields=["limit"])
    # given: another worker is sending the first delivery's message to Anna right now
    Message.objects.filter(delivery=first, profile_key="1").update(status="sending", attempts=1)
    # when: the second delivery is sent
    sending.send_some(second.pk)
    # then: Anna is at the cap already; the others get theirs
    assert _statuses(second) == {"1": ("excluded", "frequency_cap"), "2": ("sent", ""), "3": ("sent", "")}
    assert sorted(m.rcpt_tos[0] for m in sink.received()) == ["ben@example.test", "chloe@example.test"]


def test_one_email_per_booking_gives_a_profile_no_more_than_the_cap(workspace, travel, email_config, sink, queue,
                                                                     sends):
    from tests.channels.test_sending import CONTENT, live_run

    rules = RuleSet.objects.create(workspace=workspace, name="one a day")
    FrequencyCap.objects.create(workspace=workspace, rule_set=rules, channel="email", limit=1, period="day")
    # given: Anna has two bookings (1000, 1001), Ben one (1002), in one chunk
    run = live_run(workspace, entity="booking", settings={"content": CONTENT, "rule_set_id": rules.pk})
    queue()
    delivery = Delivery.objects.get(run=run)
    # when
    sends()
    # then: Anna's first booking's email leaves, her second is capped
    assert _statuses(delivery) == {"1000": ("sent", ""), "1001": ("excluded", "frequency_cap"), "1002": ("sent", "")}
    assert sorted(m.rcpt_tos[0] for m in sink.received()) == ["anna@example.test", "ben@example.test"]


@pytest.mark.parametrize("whose", ["missing", "other workspace's", "not an id"])
def test_a_rule_set_that_is_not_the_workspaces_fails_the_activity_instead_of_sending_uncapped(
        workspace, other_workspace, travel, email_config, queue, whose):
    from apps.campaigns.models import ActivityRun
    from tests.channels.test_sending import CONTENT, live_run

    other = RuleSet.objects.create(workspace=other_workspace, name="theirs")
    rule_set_id = {"missing": other.pk + 1000, "other workspace's": other.pk, "not an id": "x1"}[whose]
    run = live_run(workspace, settings={"content": CONTENT, "rule_set_id": rule_set_id})
    queue()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    expected = "AudienceError: " + ("rule_set_id: 'x1' is not a rule set id" if whose == "not an id"
                                    else f"rule_set_id: no frequency-cap rule set {rule_set_id} in this workspace")
    assert (mail.status, mail.error) == ("failed", expected)
    assert Delivery.objects.filter(workspace=workspace).count() == 0
