"""Campaign lifecycle: stale redispatch ages an activity by its own dispatch time, the
next launch is found in constant time, schedule changes of a published campaign reach
beat, runs and campaigns complete."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.campaigns import executor, services
from apps.campaigns.models import ActivityRun, Run
from apps.campaigns.scheduling import launch_slot, next_launches, parse_spec
from apps.campaigns.services import schedule_remove, schedule_set
from tests.campaigns.test_services import COMPLETE

AMS = "Europe/Amsterdam"


def local(*args):
    return dt.datetime(*args, tzinfo=ZoneInfo(AMS))


# --- stale redispatch -----------------------------------------------------------------------

def test_a_freshly_dispatched_activity_of_an_old_run_is_not_redispatched(workspace, travel, queue):
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Old", definition=COMPLETE)
    run = services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    # the run is a day old; its start was dispatched just now and waits for a worker
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - dt.timedelta(days=1))
    sent: list[int] = []
    executor.DISPATCH = sent.append  # the queue fixture restores it
    assert executor.stale_redispatch() == 0
    assert sent == []
    # two minutes later nobody took it: it goes again, once, and then waits its turn again
    later = timezone.now() + dt.timedelta(seconds=executor.STALE_QUEUED + 1)
    start = ActivityRun.objects.get(run=run, node_id="start")
    assert executor.stale_redispatch(now=later) == 1
    assert sent == [start.pk]
    assert executor.stale_redispatch(now=later + dt.timedelta(seconds=30)) == 0
    assert sent == [start.pk]


# --- next launch ----------------------------------------------------------------------------

def test_the_launch_slot_of_an_every_15_minutes_schedule_started_a_year_ago_takes_milliseconds():
    spec = parse_spec({"kind": "cron", "cron": "*/15 * * * *", "valid_from": "2025-12-01T00:00"}, AMS)
    now = local(2026, 12, 1, 9, 7, 30)
    began = time.perf_counter()
    slot = launch_slot(spec, now)
    upcoming = next_launches(spec, after=now, count=3)
    elapsed = time.perf_counter() - began
    assert slot == local(2026, 12, 1, 9, 0)
    assert upcoming == [local(2026, 12, 1, 9, 15), local(2026, 12, 1, 9, 30), local(2026, 12, 1, 9, 45)]
    assert elapsed < 0.05, elapsed


def test_the_next_launch_of_an_every_minute_schedule_started_a_year_ago_takes_milliseconds():
    # every minute is more often than a campaign may run, so the spec is built by hand
    spec = parse_spec({"kind": "daily", "times": ["09:00"], "valid_from": "2025-12-01T00:00"}, AMS)
    spec.minutes, spec.hours = tuple(range(60)), tuple(range(24))
    now = local(2026, 12, 1, 23, 59, 30)
    began = time.perf_counter()
    slots = [launch_slot(spec, now + dt.timedelta(minutes=n)) for n in range(100)]
    upcoming = next_launches(spec, after=now, count=3)
    elapsed = time.perf_counter() - began
    assert slots[0] == local(2026, 12, 1, 23, 59) and slots[1] == local(2026, 12, 2, 0, 0)
    assert upcoming == [local(2026, 12, 2, 0, 0), local(2026, 12, 2, 0, 1), local(2026, 12, 2, 0, 2)]
    assert elapsed < 0.2, elapsed


def test_the_launch_slot_keeps_validity_dst_and_sparse_schedules():
    monthly = parse_spec({"kind": "monthly", "days": [31], "times": ["07:00"]}, AMS)
    assert launch_slot(monthly, local(2027, 3, 1, 12, 0)) == local(2027, 1, 31, 7, 0)
    bounded = parse_spec({"kind": "daily", "times": ["09:00"], "valid_from": "2026-12-01T00:00",
                          "valid_until": "2026-12-03T12:00"}, AMS)
    assert launch_slot(bounded, local(2026, 12, 1, 8, 0)) is None  # before the first one
    assert launch_slot(bounded, local(2026, 12, 9, 8, 0)) == local(2026, 12, 3, 9, 0)
    spring = parse_spec({"kind": "daily", "times": ["02:30"]}, AMS)
    assert launch_slot(spring, local(2026, 3, 29, 4, 0)).astimezone(dt.UTC).isoformat() == (
        "2026-03-29T01:30:00+00:00")
    autumn = parse_spec({"kind": "daily", "times": ["02:30"]}, AMS)
    assert launch_slot(autumn, local(2026, 10, 25, 5, 0)).astimezone(dt.UTC).isoformat() == (
        "2026-10-25T00:30:00+00:00")


# --- schedules of a published campaign reach beat ---------------------------------------------

@pytest.fixture
def published(workspace, travel, queue):
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Weekly", definition=COMPLETE)
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "live"
    return campaign


def test_a_schedule_added_changed_and_removed_on_a_published_campaign_reaches_beat(workspace, published):
    campaign = published
    schedule_set(campaign=campaign, spec={"kind": "daily", "times": ["09:00"]})
    campaign.refresh_from_db()
    task = PeriodicTask.objects.get(name=f"campaign:{campaign.pk}")
    assert (campaign.status, task.enabled, task.crontab.hour, task.crontab.minute) == ("scheduled", True, "9", "0")
    schedule_set(campaign=campaign, spec={"kind": "daily", "times": ["18:30"]})
    task.refresh_from_db()
    assert (task.enabled, task.crontab.hour, task.crontab.minute) == (True, "18", "30")
    schedule_remove(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "live"
    assert not PeriodicTask.objects.filter(name=f"campaign:{campaign.pk}").exists()


def test_a_schedule_on_a_paused_published_campaign_is_written_disabled(workspace, published):
    services.campaign_pause(workspace=workspace, actor=None, campaign=published)
    schedule_set(campaign=published, spec={"kind": "daily", "times": ["09:00"]})
    task = PeriodicTask.objects.get(name=f"campaign:{published.pk}")
    assert task.enabled is False
    published.refresh_from_db()
    services.campaign_resume(workspace=workspace, actor=None, campaign=published)
    published.refresh_from_db()
    task.refresh_from_db()
    assert (published.status, task.enabled) == ("scheduled", True)


def test_a_schedule_on_a_draft_waits_for_publishing(workspace, travel):
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Draft", definition=COMPLETE)
    schedule_set(campaign=campaign, spec={"kind": "daily", "times": ["09:00"]})
    assert not PeriodicTask.objects.filter(name=f"campaign:{campaign.pk}").exists()
