import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django_celery_beat.models import PeriodicTask

from apps.campaigns import executor, services
from apps.campaigns.models import CampaignSchedule, Run
from apps.campaigns.scheduling import next_launches, parse_spec
from apps.campaigns.services import launch_due, schedule_set
from apps.campaigns.tasks import purge_working_tables
from tests.campaigns.test_services import COMPLETE
from tests.factories import UserFactory, make_travel_model

AMS = "Europe/Amsterdam"


def local(*args):
    return dt.datetime(*args, tzinfo=ZoneInfo(AMS))


def test_next_ten_daily_launches_keep_the_wall_clock_across_a_dst_change():
    spec = parse_spec({"kind": "daily", "times": ["09:00"]}, AMS)
    launches = next_launches(spec, after=local(2026, 3, 26, 12, 0), count=4)
    assert [m.isoformat() for m in launches] == [
        "2026-03-27T09:00:00+01:00", "2026-03-28T09:00:00+01:00",
        "2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"]


def test_a_time_in_the_spring_gap_runs_at_the_gaps_end_and_a_doubled_hour_runs_once():
    spec = parse_spec({"kind": "daily", "times": ["02:30"]}, AMS)
    spring = next_launches(spec, after=local(2026, 3, 28, 12, 0), count=2)
    assert spring[0].astimezone(dt.UTC).isoformat() == "2026-03-29T01:30:00+00:00"  # 03:30 CEST
    autumn = next_launches(spec, after=local(2026, 10, 24, 12, 0), count=2)
    assert [m.astimezone(dt.UTC).isoformat() for m in autumn] == [
        "2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]


def test_weekly_monthly_cron_and_validity():
    weekly = parse_spec({"kind": "weekly", "weekdays": [1, 5], "times": ["08:00"],
                         "valid_until": "2026-12-14T00:00"}, AMS)
    assert [m.date().isoformat() for m in next_launches(weekly, after=local(2026, 11, 29, 12, 0))] == [
        "2026-11-30", "2026-12-04", "2026-12-07", "2026-12-11"]
    monthly = parse_spec({"kind": "monthly", "days": [31], "times": ["07:00"]}, AMS)
    # day 31 only in months that have one
    assert [m.date().isoformat() for m in next_launches(monthly, after=local(2026, 11, 1), count=3)] == [
        "2026-12-31", "2027-01-31", "2027-03-31"]
    cron = parse_spec({"kind": "cron", "cron": "0 8-10 * * 1-5"}, AMS)
    assert [m.strftime("%a %H:%M") for m in next_launches(cron, after=local(2026, 11, 27, 9, 30), count=3)] == [
        "Fri 10:00", "Mon 08:00", "Mon 09:00"]


@pytest.mark.parametrize("spec,message", [
    ({"kind": "hourly"}, "kind is one of"),
    ({"kind": "daily", "times": ["25:00"]}, "is not a time of day"),
    ({"kind": "several", "times": ["09:00", "13:30"]}, "cannot share one schedule"),
    ({"kind": "cron", "cron": "*/5 * * * *"}, "at most every 15 minutes"),
    ({"kind": "cron", "cron": "0 8"}, "has 5 fields"),
    ({"kind": "weekly", "weekdays": [9], "times": ["08:00"]}, "weekdays from 0"),
])
def test_bad_schedules_are_refused_with_a_reason(spec, message):
    with pytest.raises(ValidationError) as exc:
        parse_spec(spec, AMS)
    assert message in exc.value.messages[0]


@pytest.fixture
def live_campaign(workspace, monkeypatch):
    pending: list[int] = []
    monkeypatch.setattr(executor, "DISPATCH", pending.append)
    make_travel_model(workspace)
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Daily", definition=COMPLETE)
    schedule_set(campaign=campaign, spec={"kind": "daily", "times": ["09:00"]})
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    return campaign, pending


def test_publishing_writes_the_beat_entry_in_the_workspace_zone(workspace, live_campaign):
    campaign, _ = live_campaign
    assert campaign.status == "scheduled"
    task = PeriodicTask.objects.get(name=f"campaign:{campaign.pk}")
    assert (task.task, task.enabled, str(task.crontab.timezone)) == (
        "apps.campaigns.tasks.launch_scheduled", True, "Europe/Amsterdam")
    assert (task.crontab.hour, task.crontab.minute) == ("9", "0")
    services.campaign_pause(workspace=workspace, actor=None, campaign=campaign)
    assert PeriodicTask.objects.get(pk=task.pk).enabled is False


def test_a_double_trigger_makes_one_run_and_a_late_one_is_skipped(workspace, live_campaign):
    campaign, _ = live_campaign
    at = local(2026, 12, 1, 9, 0, 20)
    first = launch_due(campaign_id=campaign.pk, now=at)
    second = launch_due(campaign_id=campaign.pk, now=at + dt.timedelta(seconds=5))
    assert first is not None and second is None
    assert Run.objects.filter(campaign=campaign, scheduled_for=local(2026, 12, 1, 9, 0)).count() == 1
    # beat was down for two hours: the 9:00 launch of the next day is beyond the 30 min grace
    skipped = launch_due(campaign_id=campaign.pk, now=local(2026, 12, 2, 11, 0))
    assert (skipped.status, skipped.scheduled_for) == ("skipped", local(2026, 12, 2, 9, 0))
    assert "beyond the grace period of 30 min" in skipped.error
    # within the grace period it starts late
    late = launch_due(campaign_id=campaign.pk, now=local(2026, 12, 3, 9, 20))
    assert late.status == "running" and late.trigger == "schedule"


def test_old_working_tables_are_purged(workspace, live_campaign):
    campaign, pending = live_campaign
    run = services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    while pending:
        executor.activity_execute(activity_run_id=pending.pop(0))
    run.refresh_from_db()
    assert purge_working_tables() == 0
    Run.objects.filter(pk=run.pk).update(finished_at=run.finished_at - dt.timedelta(days=8))
    assert purge_working_tables() == 1  # the build_audience's table
    assert Run.objects.get(pk=run.pk).tables_purged_at is not None


def test_schedule_over_the_api_with_the_next_ten_launch_times(workspace, client_for, alice, mallory):
    make_travel_model(workspace)
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Weekly", definition=COMPLETE)
    url = f"/api/v1/workspaces/{workspace.slug}/campaigns/{campaign.pk}/schedule/"
    marketer = client_for(mallory)
    assert marketer.get(url).json()["spec"] is None
    bad = marketer.put(url, {"spec": {"kind": "cron", "cron": "*/5 * * * *"}}, content_type="application/json")
    assert bad.status_code == 400 and "at most every 15 minutes" in bad.json()["spec"][0]
    body = marketer.put(url, {"spec": {"kind": "weekly", "weekdays": [1], "times": ["09:00"]}},
                        content_type="application/json").json()
    assert body["description"] == "weekly on Mon at 09:00 (Europe/Amsterdam)"
    assert len(body["next_launches"]) == 10
    assert all(dt.datetime.fromisoformat(m).astimezone(ZoneInfo(AMS)).strftime("%a %H:%M") == "Mon 09:00"
               for m in body["next_launches"])
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    # a published campaign's schedule is the approver's to change
    assert marketer.put(url, {"spec": {"kind": "daily", "times": ["10:00"]}},
                        content_type="application/json").status_code == 403
    assert client_for(alice).delete(url).status_code == 204
    campaign.refresh_from_db()
    assert campaign.status == "live"
    assert not PeriodicTask.objects.filter(name=f"campaign:{campaign.pk}").exists()


def test_the_campaign_page_schedules_and_previews_ten_launch_times(workspace, client_for, mallory):
    make_travel_model(workspace)
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Weekly", definition=COMPLETE)
    client = client_for(mallory)
    page = f"/w/{workspace.slug}/campaigns/{campaign.pk}/"
    assert "No schedule" in client.get(page).content.decode()
    response = client.post(f"{page}schedule/", {"kind": "weekly", "times": "08:30", "weekdays": ["2", "4"]})
    assert response.status_code == 302
    html = client.get(page).content.decode()
    assert "weekly on Tue, Thu at 08:30 (Europe/Amsterdam)" in html
    launches = html.split('id="next-launches"')[1].split("</ol>")[0]
    assert launches.count("<li>") == 10 and "08:30" in launches
    bad = client.post(f"{page}schedule/", {"kind": "cron", "cron": "*/5 * * * *"}, follow=True)
    assert "at most every 15 minutes" in bad.content.decode()


def test_the_schedule_form_shows_each_kind_its_own_fields_and_keeps_the_kind_on_error(workspace, client_for,
                                                                                     mallory):
    make_travel_model(workspace)
    campaign = services.campaign_create(workspace=workspace, actor=None, name="Weekly", definition=COMPLETE)
    client = client_for(mallory)
    page = f"/w/{workspace.slug}/campaigns/{campaign.pk}/"
    html = client.get(page).content.decode()
    form = html.split('id="schedule-form"')[1].split("</form>")[0]
    # every field but the kind says which kinds use it (the stylesheet hides the others)
    assert re.findall(r'class="sched-field" data-kinds="([^"]+)"', form) == [
        "once", "daily several weekly monthly", "weekly", "monthly", "cron"]
    assert 'class="grid sched-field" data-kinds="daily several weekly monthly cron"' in form
    css = (Path(settings.BASE_DIR) / "static/css/campaigns.css").read_text()
    for kind in ("once", "daily", "several", "weekly", "monthly", "cron"):
        assert (f'.schedule-form:has(select[name="kind"] option[value="{kind}"]:checked) '
                f'.sched-field[data-kinds]:not([data-kinds~="{kind}"])') in css
    # a refused schedule comes back as typed: the kind (cron) and its expression
    before = CampaignSchedule.objects.filter(campaign=campaign).count()
    bad = client.post(f"{page}schedule/", {"kind": "cron", "cron": "*/5 * * * *", "times": "09:00"})
    assert bad.status_code == 422
    body = bad.content.decode()
    assert "at most every 15 minutes" in body
    assert '<option value="cron" selected>Cron</option>' in body
    assert 'value="*/5 * * * *"' in body
    assert CampaignSchedule.objects.filter(campaign=campaign).count() == before == 0
    # an outsider cannot post one
    outsider = client_for(UserFactory())
    assert outsider.post(f"{page}schedule/", {"kind": "daily", "times": "09:00"}).status_code == 404
    assert not CampaignSchedule.objects.filter(campaign=campaign).exists()
