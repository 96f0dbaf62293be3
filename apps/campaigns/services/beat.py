"""A campaign's django-celery-beat entry, written from its schedule and status: clocked
for a one-off, crontab for a recurring schedule, in the workspace's zone (so daylight-saving
changes follow the wall clock). Beat calls LAUNCH_TASK with the campaign id."""

from __future__ import annotations

import json
from typing import Any

from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from ..models import Campaign, CampaignSchedule, CampaignStatus
from ..scheduling import parse_spec

# Named by the beat entries stored in the database: it must not change.
LAUNCH_TASK = "apps.campaigns.tasks.launch_scheduled"


def beat_remove(*, campaign_id: int) -> None:
    """Delete a campaign's beat entry (and the clocked time only it used)."""
    tasks = PeriodicTask.objects.filter(name=f"campaign:{campaign_id}")
    clocked = [c for c in tasks.values_list("clocked_id", flat=True) if c]
    tasks.delete()
    ClockedSchedule.objects.filter(pk__in=clocked, periodictask__isnull=True).delete()


def beat_sync(*, campaign) -> None:
    """Write (or remove) the campaign's django-celery-beat entry from its schedule and
    status: only a live/scheduled campaign with a schedule has an enabled entry."""
    schedule = CampaignSchedule.objects.filter(campaign=campaign).select_related("periodic_task").first()
    if schedule is None:
        beat_remove(campaign_id=campaign.pk)
        return
    # An archived workspace's schedules are paused (restoring writes them enabled again).
    archived = type(campaign.workspace).objects.filter(pk=campaign.workspace_id, archived_at__isnull=False).exists()
    active = campaign.status in (CampaignStatus.LIVE, CampaignStatus.SCHEDULED) and not archived
    spec = parse_spec(schedule.spec, campaign.workspace.time_zone)
    name = f"campaign:{campaign.pk}"
    defaults: dict[str, Any] = {"task": LAUNCH_TASK, "kwargs": json.dumps({"campaign_id": campaign.pk}),
                                "enabled": active, "interval": None, "crontab": None, "clocked": None,
                                "one_off": False, "start_time": spec.valid_from, "expires": spec.valid_until}
    if spec.kind == "once":
        defaults["clocked"], _ = ClockedSchedule.objects.get_or_create(clocked_time=spec.at)
        defaults["one_off"] = True
        defaults["expires"] = None
    else:
        defaults["crontab"], _ = CrontabSchedule.objects.get_or_create(timezone=spec.zone.key,
                                                                       **spec.crontab_fields())
    task, _ = PeriodicTask.objects.update_or_create(name=name, defaults=defaults)
    if schedule.periodic_task_id != task.pk:
        CampaignSchedule.objects.filter(pk=schedule.pk).update(periodic_task=task)


def workspace_beat_delete(workspace) -> None:
    """tenants.lifecycle.BEFORE_DELETE: the beat entries of the workspace's campaigns go."""
    for campaign_id in Campaign.objects.filter(workspace=workspace).values_list("pk", flat=True):
        beat_remove(campaign_id=campaign_id)


def workspace_beat_archived(workspace, archived: bool) -> None:
    """tenants.lifecycle.ARCHIVE_HOOKS: archiving disables the workspace's beat entries,
    restoring enables those of live and scheduled campaigns again."""
    for campaign in Campaign.objects.filter(workspace=workspace, schedule__isnull=False).select_related("workspace"):
        beat_sync(campaign=campaign)
