"""Writes of campaign schedules: set and remove a schedule, and the launch that beat asks
for. The run's key is the launch time it belongs to, so a double trigger (two beats, a
retried task) finds the run there. When beat was down, the launch time that was missed
still starts on recovery if it is within the workspace's grace period; otherwise a
skipped run records why."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Campaign, CampaignSchedule, CampaignStatus, Run, RunStatus
from ..scheduling import launch_slot, parse_spec
from .beat import beat_remove, beat_sync
from .campaigns import campaign_start, published_version


def schedule_set(*, campaign, spec: dict, grace_minutes: int | None = None) -> CampaignSchedule:
    """Store a campaign's schedule (checked). A draft's reaches beat when it is published;
    a published campaign's at once (a live one becomes scheduled)."""
    parse_spec(spec, campaign.workspace.time_zone)
    grace = grace_minutes if grace_minutes is not None else campaign.workspace.schedule_grace_minutes
    with transaction.atomic():
        schedule, _ = CampaignSchedule.objects.update_or_create(
            campaign=campaign, defaults={"workspace": campaign.workspace, "spec": spec, "grace_minutes": grace})
        if campaign.versions.filter(published_at__isnull=False).exists():
            Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.LIVE).update(
                status=CampaignStatus.SCHEDULED, updated_at=timezone.now())
            campaign.refresh_from_db()
            beat_sync(campaign=campaign)
    return schedule


def schedule_remove(*, campaign) -> bool:
    """Remove a campaign's schedule and its beat entry; a scheduled campaign becomes live
    (it starts by hand or by trigger). False when there was none."""
    with transaction.atomic():
        deleted, _ = CampaignSchedule.objects.filter(campaign=campaign).delete()
        beat_remove(campaign_id=campaign.pk)
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SCHEDULED).update(
            status=CampaignStatus.LIVE, updated_at=timezone.now())
        campaign.refresh_from_db()
    return bool(deleted)


def launch_due(*, campaign_id: int, now: dt.datetime | None = None):
    """Called by beat: start the run of the launch time that is due, once."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_related("workspace").filter(pk=campaign_id).first()
    schedule = CampaignSchedule.objects.filter(campaign_id=campaign_id).first()
    if campaign is None or schedule is None or campaign.status not in (CampaignStatus.LIVE, CampaignStatus.SCHEDULED):
        return None
    if campaign.workspace.archived_at is not None:
        return None  # archived: its schedules are paused
    spec = parse_spec(schedule.spec, campaign.workspace.time_zone)
    slot = launch_slot(spec, now)
    if slot is None:
        return None
    late = now - slot
    if late > dt.timedelta(minutes=schedule.grace_minutes):
        try:
            with transaction.atomic():
                return Run.objects.create(
                    workspace=campaign.workspace, campaign=campaign, version=published_version(campaign),
                    trigger="schedule", scheduled_for=slot, status=RunStatus.SKIPPED, finished_at=now,
                    error=f"missed: beat ran {int(late.total_seconds() // 60)} min after the launch time, beyond "
                          f"the grace period of {schedule.grace_minutes} min")
        except IntegrityError:
            return None
    try:
        with transaction.atomic():
            return campaign_start(workspace=campaign.workspace, actor=None, campaign=campaign, trigger="schedule",
                                  scheduled_for=slot)
    except IntegrityError:
        return None  # this launch time has its run already

