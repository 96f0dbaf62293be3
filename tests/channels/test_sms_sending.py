"""A live campaign sends SMS through the Twilio and Vonage SDKs to a loopback server that
speaks their HTTP APIs: numbers normalized to E.164 (the profile's country, else the
workspace default), invalid ones excluded with their reason, the segment limit refused,
exactly once per message."""

import pytest
from django.db import connection

from apps.campaigns.models import ActivityRun
from apps.channels import sending
from apps.channels.models import ChannelConfig, Delivery, Message
from apps.reports import selectors as reports
from apps.reports.context import figure_rows
from bench.smsgateway import SmsGateway
from tests.channels.test_sending import live_run

SID, TOKEN = "AC" + "0123456789abcdef" * 2, "twilio-token"
VKEY, VSECRET = "abc123key", "vonage-secret"
TEXT = {"content": {"text": "Hi {{ profile.first_name }}, your trip is ready"}}


@pytest.fixture
def gateway():
    with SmsGateway(twilio=(SID, TOKEN), vonage=(VKEY, VSECRET)) as gw:
        yield gw


def configure(workspace, gateway, backend="twilio", **options):
    account, secret = (SID, TOKEN) if backend == "twilio" else (VKEY, VSECRET)
    config = ChannelConfig(workspace=workspace, channel="sms", backend=backend, options={
        "account": account, "sender": "+14155550100" if backend == "twilio" else "Travel",
        "sender_kind": "number" if backend == "twilio" else "alphanumeric", "base_url": gateway.url, **options})
    config.secret = secret
    config.save()
    return config


def set_phones(workspace, phones: dict[int, str | None]):
    with connection.cursor() as cursor:
        for key, phone in phones.items():
            cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET phone = %s WHERE customer_id = %s", [phone, key])


def test_a_live_campaign_sends_sms_through_twilio(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway)
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    activity = ActivityRun.objects.get(run=run, node_id="mail")
    assert activity.status == "done", activity.error
    assert activity.report["recipients"] == 2 and activity.report["excluded"] == {"no_address": 1}
    assert sends() >= 1
    by_to = {m.to: m for m in gateway.messages}
    assert sorted(by_to) == ["+31612345678", "+33612345678"]
    assert by_to["+31612345678"].body == "Hi Anna, your trip is ready"
    assert by_to["+33612345678"].body == "Hi Chloe, your trip is ready"
    assert {m.sender for m in gateway.messages} == {"+14155550100"}
    delivery = Delivery.objects.get(run=run)
    messages = {m.address: m for m in Message.objects.filter(delivery=delivery, status="sent")}
    assert messages["+31612345678"].provider_id == by_to["+31612345678"].id
    delivery.refresh_from_db()
    assert delivery.status == "done"


def test_a_live_campaign_sends_sms_through_vonage_with_the_message_id_as_client_ref(workspace, travel, gateway,
                                                                                      queue, sends):
    configure(workspace, gateway, backend="vonage")
    run = live_run(workspace, settings={"content": {"text": "Привет {{ profile.first_name }}"}}, channel="sms")
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    sent = {m.address: m for m in Message.objects.filter(delivery=delivery, status="sent")}
    by_to = {m.to: m for m in gateway.messages}
    assert sorted(by_to) == ["31612345678", "33612345678"]
    anna = by_to["31612345678"]
    assert (anna.sender, anna.body, anna.fields["type"]) == ("Travel", "Привет Anna", "unicode")
    assert anna.reference == str(sent["+31612345678"].pk)
    assert sent["+31612345678"].provider_id == anna.id


def test_numbers_are_normalized_to_e164_and_invalid_ones_excluded_with_their_reason(workspace, travel, gateway,
                                                                                     queue, sends):
    configure(workspace, gateway, default_region="DE")
    # Anna: national Dutch (country NL); Ben: national German (no country read: DE is his); Chloe: invalid
    set_phones(workspace, {1: "06 1234 5678", 2: "0151 23456789", 3: "12345"})
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET country = NULL WHERE customer_id = 2")
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    activity = ActivityRun.objects.get(run=run, node_id="mail")
    assert activity.report["excluded"] == {"invalid_phone": 1}
    sends()
    assert sorted(m.to for m in gateway.messages) == ["+31612345678", "+4915123456789"]
    delivery = Delivery.objects.get(run=run)
    assert sorted(Message.objects.filter(delivery=delivery).values_list("status", "reason")) == [
        ("excluded", "invalid_phone"), ("sent", ""), ("sent", "")]


def test_a_national_number_without_any_region_is_excluded(workspace, travel, gateway, queue):
    configure(workspace, gateway)
    set_phones(workspace, {1: "06 1234 5678"})
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET country = NULL WHERE customer_id = 1")
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    assert ActivityRun.objects.get(run=run, node_id="mail").report["excluded"] == {"no_address": 1, "no_region": 1}


def test_two_profiles_with_one_number_written_differently_get_one_sms(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway)
    set_phones(workspace, {1: "+31 6 12345678", 2: "0031612345678", 3: None})
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    assert ActivityRun.objects.get(run=run, node_id="mail").report["excluded"] == {
        "duplicate_address": 1, "no_address": 1}
    sends()
    assert [m.to for m in gateway.messages] == ["+31612345678"]


def test_a_message_over_the_segment_limit_is_refused_with_the_reason(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway, max_segments=1)
    run = live_run(workspace, settings={"content": {"text": "{{ profile.first_name }} " + "x" * 160}},
                   channel="sms")
    queue()
    sends()
    assert gateway.messages == []
    failed = Message.objects.filter(delivery__run=run, status="failed")
    assert failed.count() == 2
    assert {m.error for m in failed} == {"segments 2 segments (165 GSM-7 septets) is over the limit of 1 segment "
                                         "per message", "segments 2 segments (166 GSM-7 septets) is over the limit "
                                         "of 1 segment per message"}


def test_without_an_sms_provider_a_live_run_says_so(workspace, travel, queue):
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    activity = ActivityRun.objects.get(run=run, node_id="mail")
    assert activity.status == "failed" and "no SMS provider is configured" in activity.error


def test_an_outage_pauses_the_delivery_and_nothing_is_sent_twice(workspace, travel, gateway, queue, sends):
    configure(workspace, gateway)
    run = live_run(workspace, settings=TEXT, channel="sms")
    queue()
    delivery = Delivery.objects.get(run=run)
    gateway.down = True
    sending.send_some(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.outage_since is not None and "20503" in delivery.outage_error
    assert set(Message.objects.filter(delivery=delivery).exclude(status="excluded").values_list(
        "status", flat=True)) == {"queued"}
    gateway.down = False
    Delivery.objects.filter(pk=delivery.pk).update(paused_until=None)
    sending.send_some(delivery.pk)
    sending.send_some(delivery.pk)
    assert sorted(m.to for m in gateway.messages) == ["+31612345678", "+33612345678"]


def test_a_test_run_shows_rendered_samples_segments_and_the_cost_estimate(workspace, travel, gateway, queue):
    configure(workspace, gateway, price_per_segment=0.05, max_segments=2)
    nodes_text = {"content": {"text": "Hi {{ profile.first_name }} €" + "x" * 150}}
    from apps.campaigns import executor

    live = live_run(workspace, settings=nodes_text, channel="sms")  # only for its campaign and version
    live.delete()
    campaign_run = executor.run_create(campaign=live.campaign, version=live.version, mode="test")
    queue()
    report = ActivityRun.objects.get(run=campaign_run, node_id="mail").report
    assert [s["address"] for s in report["samples"]] == ["+31612345678", "+33612345678"]
    assert report["samples"][0]["text"] == "Hi Anna €" + "x" * 150
    assert report["samples"][0]["sms"] == {"encoding": "GSM-7", "units": 160, "segments": 1, "per_segment": 160,
                                           "non_gsm": ""}
    assert report["samples"][1]["sms"]["segments"] == 2  # "Chloe" is one letter longer: 161 septets
    assert report["sms"] == {"segments": 2, "max_segments": 2, "price_per_segment": 0.05, "estimated_cost": 0.15,
                             "over_limit": []}
    assert gateway.messages == []


def test_the_report_counts_the_segments_sent_and_their_cost_at_the_price_when_sent(
        workspace, travel, gateway, queue, sends, client_for, alice):
    config = configure(workspace, gateway, price_per_segment=0.0075)
    # "Hi Anna, " + 151 is 160 GSM-7 septets: one segment; "Hi Chloe, " + 151 is 161: two
    run = live_run(workspace, settings={"content": {"text": "Hi {{ profile.first_name }}, " + "x" * 151}},
                   channel="sms")
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    assert sorted(Message.objects.filter(delivery=delivery, status="sent").values_list("segments", flat=True)) \
        == [1, 2]
    # a later price does not change what was spent
    config.options = {**config.options, "price_per_segment": 1}
    config.save()
    figures = reports.delivery_report(delivery=Delivery.objects.get(pk=delivery.pk))
    assert (figures["sent"], figures["segments"], figures["segments_per_message"], figures["sms_cost"]) \
        == (2, 3, 1.5, 0.0225)
    page = client_for(alice).get(f"/w/{workspace.slug}/reports/campaigns/{run.campaign_id}/").content.decode()
    assert 'id="report-sms-cost"' in page and "0.0225" in page
    rows = client_for(alice).get(
        f"/w/{workspace.slug}/reports/campaigns/{run.campaign_id}/figures.csv").content.decode()
    assert "SMS segments,3," in rows and "SMS cost (at the price per segment when sent),0.0225," in rows
    # an email report has no SMS rows
    assert "segments" not in {r["key"] for r in figure_rows({"channels": ["email"]})}
