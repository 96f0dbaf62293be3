"""From a live campaign run to messages accepted by a real SMTP server on loopback."""

import email
import time
from email import policy

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.campaigns import executor
from apps.campaigns.models import ActivityRun, Campaign, CampaignVersion, Run
from apps.channels import sending, services
from apps.channels.models import ChannelConfig, Delivery, Message

CONTENT = {
    "subject": "Hello {{ profile.first_name }}",
    "html": "<html><body><p>Dear {{ profile.first_name|default('traveller') }},</p>"
            "<p><a href=\"https://travel.test/offers?c={{ profile.country }}\">See offers</a></p></body></html>",
}


def live_run(workspace, rule=None, entity="customer", settings=None, channel="email"):
    nodes = [{"id": "start", "type": "start"},
             {"id": "who", "type": "build_audience", "settings": {"definition": {
                 "entity": entity, "rule": rule or {"attr": entity + "_id", "op": "gte", "value": 0}}}},
             {"id": "mail", "type": channel, "settings": settings if settings is not None else {"content": CONTENT}},
             {"id": "end", "type": "end"}]
    edges = [{"from": "start", "outlet": "out", "to": "who"}, {"from": "who", "outlet": "out", "to": "mail"},
             {"from": "mail", "outlet": "out", "to": "end"}]
    campaign = Campaign.objects.create(workspace=workspace, name=f"Spring {time.monotonic_ns()}")
    version = CampaignVersion.objects.create(workspace=workspace, campaign=campaign, number=1,
                                             definition={"nodes": nodes, "edges": edges})
    return executor.run_create(campaign=campaign, version=version, mode="live")


def parsed(received):
    return email.message_from_bytes(received.data, policy=policy.default)


def test_a_live_run_sends_one_personalized_email_per_customer(workspace, travel, email_config, sink, queue, sends):
    run = live_run(workspace)
    queue()
    run.refresh_from_db()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    # the activity is done; the run is done once its delivery has sent everything
    assert (run.status, mail.status) == ("running", "done"), mail.error
    assert mail.report["recipients"] == 3 and mail.report["excluded"] == {}
    delivery = Delivery.objects.get(run=run)
    assert delivery.counts == {"queued": 3, "excluded": {}} and delivery.total == 3
    assert sends() >= 1
    run.refresh_from_db()
    assert run.status == "done"
    received = sink.received()
    assert sorted(r.rcpt_tos[0] for r in received) == ["anna@example.test", "ben@example.test", "chloe@example.test"]
    by_to = {r.rcpt_tos[0]: parsed(r) for r in received}
    anna = by_to["anna@example.test"]
    assert anna["Subject"] == "Hello Anna"
    assert anna["From"] == "Travel News <news@travel.test>"
    html = anna.get_body(("html",)).get_content()
    text = anna.get_body(("plain",)).get_content()
    assert "Dear Anna," in html and "Dear Anna," in text
    assert "/t/c/" in html and "https://travel.test/offers?c=NL" not in html  # the link goes through the redirect
    assert "/t/o/" in html  # the open pixel
    messages = {m.address: m for m in Message.objects.filter(delivery=delivery)}
    assert all(m.status == "sent" and m.sent_at for m in messages.values())
    assert anna["Message-ID"] == sending.message_id(delivery, messages["anna@example.test"].pk)
    delivery.refresh_from_db()
    assert delivery.status == "done" and delivery.finished_at


def test_a_redelivered_task_sends_nothing_twice(workspace, travel, email_config, sink, queue, sends):
    run = live_run(workspace)
    queue()
    delivery = Delivery.objects.get(run=run)
    sends()
    for _ in range(3):  # the broker delivers the task again
        sending.send_some(delivery.pk)
    assert len(sink.received()) == 3
    assert len({r.message_id for r in sink.received()}) == 3


def test_one_email_per_booking_goes_to_the_customer(workspace, travel, email_config, sink, queue, sends):
    content = {"subject": "Your trip {{ target.booking_id }} on {{ target.start_date|date('yyyy-MM-dd') }}",
               "html": "<p>{{ profile.first_name }}: {{ target.amount|money(target.currency) }}</p>"}
    run = live_run(workspace, rule={"attr": "status", "op": "in", "value": ["confirmed", "completed"]},
                   entity="booking", settings={"content": content})
    queue()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert mail.status == "done", mail.error
    assert mail.report["per_row"] is True and mail.report["recipients"] == 2
    sends()
    subjects = sorted(parsed(r)["Subject"] for r in sink.received())
    assert subjects == ["Your trip 1000 on 2025-01-10", "Your trip 1001 on 2024-08-01"]
    assert {r.rcpt_tos[0] for r in sink.received()} == {"anna@example.test"}
    # Anna's language is Dutch: amounts are written the Dutch way.
    bodies = sorted(parsed(r).get_body(("html",)).get_content() for r in sink.received())
    assert "Anna: €\xa01.250,00" in bodies[0] and "Anna: €\xa0640,50" in bodies[1]


def test_temporary_errors_are_retried_later_and_permanent_ones_fail_with_the_reply(
        workspace, travel, email_config, sink, queue, sends):
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET email = 'tempfail@example.test' WHERE customer_id = 1")
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET email = 'reject@example.test' WHERE customer_id = 2")
    run = live_run(workspace)
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    by_address = {m.address: m for m in Message.objects.filter(delivery=delivery)}
    temp, rejected, ok = (by_address["tempfail@example.test"], by_address["reject@example.test"],
                          by_address["chloe@example.test"])
    assert ok.status == "sent"
    assert rejected.status == "failed" and rejected.error.startswith("550") and "No such user" in rejected.error
    assert temp.status == "deferred" and temp.error.startswith("451") and temp.next_attempt_at > timezone.now()
    assert Delivery.objects.get(pk=delivery.pk).status == "sending"
    # Not due yet: a sweep dispatches nothing for it; once due, it is tried again.
    assert sending.sweep()["dispatched"] == 0
    Message.objects.filter(pk=temp.pk).update(next_attempt_at=timezone.now())
    assert sending.sweep()["dispatched"] == 1
    sends()
    temp.refresh_from_db()
    assert temp.status == "deferred" and temp.attempts == 2
    # After max_attempts the message fails for good.
    ChannelConfig.objects.filter(pk=email_config.pk).update(max_attempts=2)
    Message.objects.filter(pk=temp.pk).update(next_attempt_at=timezone.now())
    sending.send_some(delivery.pk)
    temp.refresh_from_db()
    assert (temp.status, temp.reason) == ("failed", "retries_exhausted")
    assert Delivery.objects.get(pk=delivery.pk).status == "done"


def test_exclusions_are_kept_with_their_reason(workspace, travel, email_config, sink, queue, sends):
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET email = 'not-an-address' WHERE customer_id = 1")
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET email = 'CHLOE@example.test ' WHERE customer_id = 2")
    run = live_run(workspace)
    queue()
    delivery = Delivery.objects.get(run=run)
    assert delivery.counts == {"queued": 1, "excluded": {"invalid_address": 1, "duplicate_address": 1}}
    excluded = {m.target_key: m.reason for m in Message.objects.filter(delivery=delivery, status="excluded")}
    assert excluded == {"1": "invalid_address", "3": "duplicate_address"}
    sends()
    assert [r.rcpt_tos for r in sink.received()] == [["chloe@example.test"]]


def test_a_recipient_whose_data_breaks_the_template_fails_alone(workspace, travel, email_config, sink, queue, sends):
    content = dict(CONTENT, subject="{{ 100 // (profile.customer_id - 2) }}")
    run = live_run(workspace, settings={"content": content})
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    statuses = {m.target_key: (m.status, m.reason) for m in Message.objects.filter(delivery=delivery)}
    assert statuses["2"] == ("failed", "render_error")
    assert statuses["1"][0] == statuses["3"][0] == "sent"
    assert "ZeroDivisionError" in Message.objects.get(delivery=delivery, target_key="2").error


def test_stopping_a_delivery_cancels_what_has_not_left(workspace, travel, email_config, sink, queue, sends):
    run = live_run(workspace)
    queue()
    delivery = Delivery.objects.get(run=run)
    assert services.delivery_stop(workspace=workspace, delivery=delivery) == 3
    sends()
    assert sink.received() == []
    assert set(Message.objects.filter(delivery=delivery).values_list("status", flat=True)) == {"cancelled"}
    assert Delivery.objects.get(pk=delivery.pk).status == "stopped"


def test_the_window_ends_and_the_rest_is_expired(workspace, travel, email_config, sink, queue, sends):
    run = live_run(workspace)
    queue()
    delivery = Delivery.objects.get(run=run)
    Delivery.objects.filter(pk=delivery.pk).update(expires_at=timezone.now())
    sends()
    assert sink.received() == []
    assert set(Message.objects.filter(delivery=delivery).values_list("reason", flat=True)) == {"window_ended"}
    assert Delivery.objects.get(pk=delivery.pk).status == "expired"


def test_the_rate_limit_spreads_the_sends(workspace, travel, email_config, sink, queue, sends):
    ChannelConfig.objects.filter(pk=email_config.pk).update(rate_per_second=1)
    run = live_run(workspace)
    queue()
    started = time.monotonic()
    sends()
    assert len(sink.received()) == 3
    assert time.monotonic() - started >= 1.0  # 3 messages at 1/s cross two window boundaries
    assert Delivery.objects.get(run=run).status == "done"


def test_a_killed_senders_claim_is_taken_over_at_once_and_uses_no_attempt(workspace, travel, email_config, sink,
                                                                          queue, sends):
    from apps.channels import claims

    run = live_run(workspace)
    queue()
    delivery = Delivery.objects.get(run=run)
    # given a task that claimed every message, then died (its advisory lock went with it)
    dead = claims.Claim(delivery.pk, lease=600)
    dead.open()
    assert len(dead.claim(10)) == 3
    dead.close()
    # when: a sweep runs long before the lease ends
    sends.pending.clear()
    assert sending.sweep()["dispatched"] == 1
    sends()
    # then: the claims were taken over at once, and the crash cost no attempt
    assert len(sink.received()) == 3
    assert [(m.status, m.attempts, m.claim_token) for m in Message.objects.filter(delivery=delivery)] == [
        ("sent", 1, None)] * 3
    # the dead task can no longer record anything for messages taken over
    assert sending._mark(Message.objects.filter(delivery=delivery).first().pk, "failed", token=dead.token) is False


def test_a_live_run_without_content_fails_naming_what_is_missing(workspace, travel, email_config, queue):
    run = live_run(workspace, settings={})
    queue()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert mail.status == "failed"
    assert "subject: is required" in mail.error and "html: is required" in mail.error
    assert not Delivery.objects.filter(run=run).exists()
    assert Run.objects.get(pk=run.pk).status == "failed"


@pytest.mark.parametrize("content,needle", [
    ({"subject": "Hi {{ profile.shoe_size }}", "html": "<p>x</p>"}, "profile has no attribute 'shoe_size'"),
    ({"subject": "Hi", "html": "<p>\n{% if profile.country %}\n</p>"}, "html, line"),
    ({"subject": "Hi {{ custmer.first_name }}", "html": "<p>x</p>"}, "unknown name 'custmer'"),
])
def test_a_template_with_problems_is_rejected_when_saved(workspace, travel, content, needle):
    with pytest.raises(ValidationError) as caught:
        services.template_save(workspace=workspace, actor=None, name="T", channel="email", content=content)
    assert needle in str(caught.value)


def test_a_proof_goes_to_the_test_addresses_marked(workspace, travel, email_config, sink, sends):
    services.proof_send(workspace=workspace, actor=None, channel="email", content=CONTENT,
                        addresses=["qa@agency.test", "boss@agency.test"], key=3)
    sends()
    received = sink.received()
    assert sorted(r.rcpt_tos[0] for r in received) == ["boss@agency.test", "qa@agency.test"]
    assert {parsed(r)["Subject"] for r in received} == {"[PROOF] Hello Chloe"}


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_results_are_recorded_on_the_ledger_thread(workspace, travel, email_config, sink,
                                                                         queue, sends):
    """Workers send outside any transaction: each result commits on a second connection
    while the next envelope is on the wire, and every result is recorded at the end."""
    run = live_run(workspace)
    queue()
    delivery = Delivery.objects.get(run=run)
    sends.pending.clear()
    totals = sending.send_some(delivery.pk)
    assert totals["sent"] == 3
    assert sorted(r.rcpt_tos[0] for r in sink.received()) == ["anna@example.test", "ben@example.test",
                                                             "chloe@example.test"]
    assert set(Message.objects.filter(delivery=delivery).values_list("status", flat=True)) == {"sent"}
    assert Delivery.objects.get(pk=delivery.pk).status == "done"


def test_a_test_run_renders_samples_and_sends_nothing(workspace, travel, email_config, sink, queue, sends):
    nodes_settings = {"content": CONTENT}
    run = live_run(workspace, settings=nodes_settings)
    Run.objects.filter(pk=run.pk).update(mode="test")
    queue()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert mail.status == "done", mail.error
    samples = mail.report["samples"]
    assert [s["address"] for s in samples] == ["anna@example.test", "ben@example.test", "chloe@example.test"]
    assert samples[0]["subject"] == "Hello Anna" and "Dear Anna," in samples[0]["html"]
    assert not Delivery.objects.filter(run=run).exists()
    sends()
    assert sink.received() == []


def test_a_list_of_related_rows_from_enrichment_is_looped_over_in_the_email(workspace, travel, email_config, sink,
                                                                           queue, sends):
    content = {"subject": "Your trips",
               "html": "<ul>{% for trip in enrichment.trips %}<li>{{ trip.booking_id }} on "
                       "{{ trip.start_date|date('yyyy-MM-dd') }}</li>{% else %}<li>none</li>{% endfor %}</ul>"}
    nodes = [{"id": "start", "type": "start"},
             {"id": "who", "type": "build_audience", "settings": {"definition": {
                 "entity": "customer", "rule": {"attr": "customer_id", "op": "in", "value": [1, 3]}}}},
             {"id": "enrich", "type": "enrichment", "settings": {"lists": [{
                 "name": "trips", "related": "bookings", "order_by": "start_date", "descending": True, "limit": 5,
                 "attributes": ["booking_id", "start_date"]}]}},
             {"id": "mail", "type": "email", "settings": {"content": content}},
             {"id": "end", "type": "end"}]
    edges = [{"from": a, "outlet": "out", "to": b} for a, b in
             [("start", "who"), ("who", "enrich"), ("enrich", "mail"), ("mail", "end")]]
    campaign = Campaign.objects.create(workspace=workspace, name="Trips")
    version = CampaignVersion.objects.create(workspace=workspace, campaign=campaign, number=1,
                                             definition={"nodes": nodes, "edges": edges})
    run = executor.run_create(campaign=campaign, version=version, mode="live")
    queue()
    assert ActivityRun.objects.get(run=run, node_id="mail").status == "done"
    sends()
    bodies = {r.rcpt_tos[0]: parsed(r).get_body(("html",)).get_content() for r in sink.received()}
    assert "<li>1000 on 2025-01-10</li><li>1001 on 2024-08-01</li></ul>" in bodies["anna@example.test"]
    assert "<li>none</li>" in bodies["chloe@example.test"]
