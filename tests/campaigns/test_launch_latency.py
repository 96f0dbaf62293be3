"""A scheduled launch through the real machinery: beat (django-celery-beat's
DatabaseScheduler) and a worker as processes against the test database. The issue's bar:
a run starts within 5 s of its launch time."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.campaigns import services
from apps.campaigns.models import Run
from apps.campaigns.services import schedule_set
from tests.factories import make_travel_model

DEFINITION = {"nodes": [{"id": "start", "type": "start"},
                        {"id": "nl", "type": "build_audience", "settings": {"definition": {
                            "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}}},
                        {"id": "end", "type": "end"}],
              "edges": [{"from": "start", "to": "nl"}, {"from": "nl", "to": "end"}]}


@pytest.mark.worker
def test_a_once_schedule_published_while_beat_runs_starts_within_5_s(workspace, start_worker, start_beat):
    with transaction.atomic():
        make_travel_model(workspace)
        campaign = services.campaign_create(workspace=workspace, actor=None, name="On time",
                                            definition=DEFINITION)
    start_worker()
    start_beat()
    # given beat already running, a campaign published with a launch a few seconds ahead
    # (the entry is new to beat: it must notice the change in time)
    at = (timezone.now() + timedelta(seconds=6)).astimezone(workspace.zone).replace(microsecond=0)
    schedule_set(campaign=campaign, spec={"kind": "once", "at": at.strftime("%Y-%m-%dT%H:%M:%S")})
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    # then a run of that launch time is created and started, then finishes
    deadline = time.monotonic() + 90
    run = None
    while time.monotonic() < deadline:
        run = Run.objects.filter(campaign=campaign).first()
        if run is not None and run.status not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert run is not None, "beat did not launch the campaign within 90 s"
    assert (run.trigger, run.mode, run.scheduled_for) == ("schedule", "live", at)
    delay = (run.started_at - run.scheduled_for).total_seconds()
    assert 0 <= delay <= 5, f"the run started {delay:.2f} s after its launch time"
    assert run.status == "done", run.error
    assert Run.objects.filter(campaign=campaign).count() == 1


@pytest.mark.worker
def test_a_recurring_schedule_valid_for_a_year_starts_within_5_s(workspace, start_worker, start_beat):
    with transaction.atomic():
        make_travel_model(workspace)
        campaign = services.campaign_create(workspace=workspace, actor=None, name="Every quarter",
                                            definition=DEFINITION)
    start_worker()
    start_beat()
    # every 15 minutes since a year ago (35,000 launch times behind it), the next one at
    # the next whole minute; beat's crontab entry launches it
    at = (timezone.now() + timedelta(seconds=8 + 60)).replace(second=0, microsecond=0).astimezone(workspace.zone)
    since = (at - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M")
    schedule_set(campaign=campaign, spec={"kind": "cron", "cron": f"{at.minute % 15}-59/15 * * * *",
                                          "valid_from": since})
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    deadline = time.monotonic() + 150
    run = None
    while time.monotonic() < deadline:
        run = Run.objects.filter(campaign=campaign, scheduled_for=at).first()
        if run is not None and run.status not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert run is not None, "beat did not launch the campaign"
    delay = (run.started_at - run.scheduled_for).total_seconds()
    assert 0 <= delay <= 5, f"the run started {delay:.2f} s after its launch time"
    assert (run.trigger, run.status) == ("schedule", "done"), run.error
