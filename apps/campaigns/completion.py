"""When a campaign is complete: a scheduled campaign whose schedule has no launch left
(a one-off after its launch, a recurring one after its validity period) and whose runs
have all ended. Checked when one of its runs ends and, for a schedule that ran out
without a run ending then, by the periodic sweep."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from .models import Campaign, CampaignSchedule, CampaignStatus, Run, RunStatus
from .scheduling import next_launches, parse_spec, previous_launch
from .services.beat import beat_sync


def _schedule_over(campaign: Campaign, schedule: CampaignSchedule, now: dt.datetime) -> bool:
    spec = parse_spec(schedule.spec, campaign.workspace.time_zone)
    if next_launches(spec, after=now, count=1):
        return False
    last = previous_launch(spec, at_or_before=now)
    if last is None:
        # Nothing launched and nothing will (a one-off whose time never came within its
        # validity): over once its validity ended.
        return spec.kind != "once" and spec.valid_until is not None and spec.valid_until <= now
    # The last launch has its run, or beat can no longer start it (past the grace period).
    return (Run.objects.filter(campaign=campaign, scheduled_for=last).exists()
            or now - last > dt.timedelta(minutes=schedule.grace_minutes))


def campaign_complete_if_done(*, campaign_id: int, now: dt.datetime | None = None) -> bool:
    """Mark a scheduled campaign completed when its schedule has no launch left and no
    run of it is open; its beat entry is disabled. True when it was completed now."""
    from apps.tenants.services import audit_record  # noqa: PLC0415

    now = now or timezone.now()
    with transaction.atomic():
        campaign = (Campaign.objects.select_for_update().select_related("workspace")
                    .filter(pk=campaign_id, status=CampaignStatus.SCHEDULED).first())
        schedule = CampaignSchedule.objects.filter(campaign_id=campaign_id).first()
        if campaign is None or schedule is None or not _schedule_over(campaign, schedule, now):
            return False
        if Run.objects.filter(campaign=campaign, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
            return False
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED, updated_at=now)
        campaign.status = CampaignStatus.COMPLETED
        beat_sync(campaign=campaign)
        audit_record(workspace=campaign.workspace, actor=None, verb="campaign.completed", target=campaign)
    return True


def campaigns_complete_due(*, now: dt.datetime | None = None) -> int:
    """The periodic sweep: complete the scheduled campaigns whose schedule ran out."""
    ids = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, schedule__isnull=False).values_list("pk", flat=True)
    return sum(campaign_complete_if_done(campaign_id=pk, now=now) for pk in ids)
