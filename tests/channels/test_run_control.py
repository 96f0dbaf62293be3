"""Stopping and pausing a campaign reach its deliveries (stop cancels the queued
messages, pause holds them, resume releases them), and runs and campaigns complete
when their deliveries have finished."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.campaigns import services
from apps.campaigns.completion import campaigns_complete_due
from apps.campaigns.models import Run
from apps.campaigns.services import launch_due, schedule_set
from apps.channels import policy, sending
from apps.channels.models import Delivery, Message

AMS = "Europe/Amsterdam"
MAILING = {"nodes": [{"id": "start", "type": "start"},
                     {"id": "who", "type": "build_audience", "settings": {"definition": {
                         "entity": "customer", "rule": {"attr": "customer_id", "op": "gte", "value": 0}}}},
                     {"id": "mail", "type": "email", "settings": {"content": {
                         "subject": "Hi {{ profile.first_name }}", "html": "<p>Hi</p>",
                         "from_email": "news@travel.test"}}},
                     {"id": "end", "type": "end"}],
           "edges": [{"from": "start", "outlet": "out", "to": "who"}, {"from": "who", "outlet": "out", "to": "mail"},
                     {"from": "mail", "outlet": "out", "to": "end"}]}


def statuses(delivery):
    return sorted(Message.objects.filter(delivery=delivery).values_list("status", flat=True))


@pytest.fixture
def campaign(workspace, travel, email_config):
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Mailing", definition=MAILING)
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def started(workspace, campaign, queue, sends):
    """A live run whose delivery has its 3 messages queued, none sent yet."""
    run = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    delivery = Delivery.objects.get(run=run)
    assert (delivery.status, statuses(delivery)) == ("sending", ["queued"] * 3)
    return run, delivery


def test_a_run_is_done_only_when_its_delivery_has_sent_everything(workspace, started, sends, sink):
    run, delivery = started
    run.refresh_from_db()
    assert run.status == "running"  # every activity is done, the messages are not sent yet
    sends()
    run.refresh_from_db()
    assert (run.status, Delivery.objects.get(pk=delivery.pk).status, len(sink.messages)) == ("done", "done", 3)


def test_stopping_the_campaign_cancels_the_queued_messages_and_says_how_many(
        workspace, campaign, started, sends, sink, client_for, alice):
    run, delivery = started
    stopped = services.campaign_stop(workspace=workspace, actor=None, campaign=campaign)
    assert stopped.cancelled == 3
    sends()
    assert (Delivery.objects.get(pk=delivery.pk).status, statuses(delivery), len(sink.messages)) == (
        "stopped", ["cancelled"] * 3, 0)
    assert set(Message.objects.filter(delivery=delivery).values_list("reason", flat=True)) == {"stopped"}
    run.refresh_from_db()
    assert run.status == "stopped"
    client = client_for(alice)
    run_page = client.get(f"/w/{workspace.slug}/campaigns/runs/{run.pk}/").content.decode()
    assert "Stopped: 3 queued messages cancelled" in run_page
    campaign_page = client.get(f"/w/{workspace.slug}/campaigns/{campaign.pk}/").content.decode()
    assert "Stopped: 3 queued messages cancelled" in campaign_page


def test_stopping_one_run_on_its_page_cancels_its_queued_messages(workspace, started, sends, sink, client_for, alice):
    run, delivery = started
    response = client_for(alice).post(f"/w/{workspace.slug}/campaigns/runs/{run.pk}/stop/", follow=True)
    assert f"Run #{run.pk} is stopped. Stopped: 3 queued messages cancelled." in response.content.decode()
    sends()
    assert (statuses(delivery), len(sink.messages)) == (["cancelled"] * 3, 0)


def test_pausing_holds_the_queued_messages_and_resuming_sends_them(
        workspace, campaign, started, sends, sink, client_for, alice):
    run, delivery = started
    client = client_for(alice)
    response = client.post(f"/w/{workspace.slug}/campaigns/{campaign.pk}/lifecycle/", {"action": "pause"},
                           follow=True)
    assert "Paused: 3 messages held." in response.content.decode()
    sends()  # the sending tasks already queued find the delivery paused
    assert (Delivery.objects.get(pk=delivery.pk).status, statuses(delivery), len(sink.messages)) == (
        "paused", ["queued"] * 3, 0)
    assert sending.sweep()["dispatched"] == 0  # the sweeper does not send a paused delivery either
    assert "Paused: 3 messages held" in client.get(f"/w/{workspace.slug}/campaigns/runs/{run.pk}/").content.decode()
    run.refresh_from_db()
    assert run.status == "running"
    # resumed
    campaign.refresh_from_db()
    resumed = services.campaign_resume(workspace=workspace, actor=None, campaign=campaign)
    assert resumed.released == 3
    sends()
    run.refresh_from_db()
    assert (statuses(delivery), len(sink.messages), run.status) == (["sent"] * 3, 3, "done")


def test_a_pause_during_a_send_stops_claiming_after_the_chunk(workspace, campaign, started, sends, sink,
                                                                email_config, monkeypatch):
    run, delivery = started
    email_config.chunk_size = 1
    email_config.save()
    calls = []

    send_policy = policy.current()
    check = send_policy.check_before_send

    def pause_on_first_chunk(d, rows):
        if not calls:
            services.campaign_pause(workspace=workspace, actor=None, campaign=campaign)
        calls.append(len(rows))
        return check(d, rows)

    monkeypatch.setattr(send_policy, "check_before_send", pause_on_first_chunk)
    sends()
    assert (calls, statuses(delivery), len(sink.messages)) == ([1], ["queued", "queued", "sent"], 1)


def test_a_channel_activity_of_a_paused_campaign_makes_a_held_delivery(workspace, campaign, queue, sends, sink):
    run = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    services.campaign_pause(workspace=workspace, actor=None, campaign=campaign)
    queue()
    delivery = Delivery.objects.get(run=run)
    sends()
    assert (delivery.status, statuses(delivery), len(sink.messages)) == ("paused", ["queued"] * 3, 0)


# --- completion -------------------------------------------------------------------------------

def local(*args):
    return dt.datetime(*args, tzinfo=ZoneInfo(AMS))


def recent_minute(minutes_ago: int) -> dt.datetime:
    """A whole minute a little while ago, in the workspace's zone (within the grace period)."""
    moment = timezone.now().astimezone(ZoneInfo(AMS)) - dt.timedelta(minutes=minutes_ago)
    return moment.replace(second=0, microsecond=0)


def test_a_one_off_campaign_completes_once_its_launch_has_run_and_sent(workspace, campaign, queue, sends, sink):
    at = recent_minute(5)
    schedule_set(campaign=campaign, spec={"kind": "once", "at": at.strftime("%Y-%m-%dT%H:%M")})
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    run = launch_due(campaign_id=campaign.pk)
    assert run.scheduled_for == at
    queue()
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"  # its run still sends
    sends()
    campaign.refresh_from_db()
    run.refresh_from_db()
    assert (run.status, campaign.status) == ("done", "completed")
    assert PeriodicTask.objects.get(name=f"campaign:{campaign.pk}").enabled is False


def test_a_recurring_campaign_completes_after_its_last_launch_in_its_validity(workspace, campaign, queue, sends,
                                                                              sink):
    last = recent_minute(5)
    first = last - dt.timedelta(days=1)
    schedule_set(campaign=campaign, spec={
        "kind": "daily", "times": [last.strftime("%H:%M")],
        "valid_from": (first - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        "valid_until": (last + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")})
    run = launch_due(campaign_id=campaign.pk, now=first + dt.timedelta(seconds=5))
    queue()
    sends()
    run.refresh_from_db()
    campaign.refresh_from_db()
    assert (run.scheduled_for, run.status, campaign.status) == (first, "done", "scheduled")  # one launch to come
    run = launch_due(campaign_id=campaign.pk, now=last + dt.timedelta(seconds=5))
    queue()
    sends()
    run.refresh_from_db()
    campaign.refresh_from_db()
    assert (run.scheduled_for, run.status, campaign.status) == (last, "done", "completed")


def test_the_sweep_completes_a_schedule_that_ran_out_and_leaves_a_running_one(workspace, travel):
    from tests.campaigns.test_services import COMPLETE

    over = services.campaign_create(workspace=workspace, actor=None, name="Over", definition=COMPLETE)
    schedule_set(campaign=over, spec={"kind": "daily", "times": ["09:00"], "valid_until": "2026-12-02T12:00"})
    services.campaign_publish(workspace=workspace, actor=None, campaign=over)
    going = services.campaign_create(workspace=workspace, actor=None, name="Going", definition=COMPLETE)
    schedule_set(campaign=going, spec={"kind": "daily", "times": ["09:00"]})
    services.campaign_publish(workspace=workspace, actor=None, campaign=going)
    assert campaigns_complete_due(now=local(2026, 12, 1, 12, 0)) == 0  # the 2nd's launch is ahead
    assert campaigns_complete_due(now=local(2026, 12, 3, 12, 0)) == 1
    over.refresh_from_db()
    going.refresh_from_db()
    assert (over.status, going.status) == ("completed", "scheduled")
    assert Run.objects.filter(campaign__in=[over, going]).count() == 0


def test_stopping_a_paused_campaign_cancels_what_it_held(workspace, campaign, started, sends, sink):
    run, delivery = started
    services.campaign_pause(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    assert services.campaign_stop(workspace=workspace, actor=None, campaign=campaign).cancelled == 3
    sends()
    assert (Delivery.objects.get(pk=delivery.pk).status, statuses(delivery), len(sink.messages)) == (
        "stopped", ["cancelled"] * 3, 0)
