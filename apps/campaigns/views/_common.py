"""Bits the campaign screens share."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from apps.tenants.models import Workspace
from apps.tenants.roles import WorkspaceRole

from ..activities import REGISTRY
from ..models import ActivityRun, CampaignStatus, Run
from ..scheduling import next_launches, parse_spec
from ..selectors import campaign_list

APPROVER = WorkspaceRole.APPROVER


def campaign_overview(*, workspace: Workspace) -> list[dict[str, Any]]:
    """The rows of the campaign list: each campaign with its latest version number and its
    last run with the recipients its channel activities counted. Three queries in all."""
    last_run = Run.objects.filter(campaign=OuterRef("pk")).order_by("-created_at", "-id")
    campaigns = list(campaign_list(workspace=workspace).select_related("schedule").annotate(
        latest_number=Max("versions__number"), last_run_pk=Subquery(last_run.values("pk")[:1])))
    runs = {r.pk: r for r in Run.objects.filter(pk__in=[c.last_run_pk for c in campaigns if c.last_run_pk])}
    recipients: dict[int, int] = {}
    channel_types = [a.type for a in REGISTRY.values() if a.sends]
    for run_id, report in ActivityRun.objects.filter(run_id__in=list(runs), type__in=channel_types).values_list(
            "run_id", "report"):
        recipients[run_id] = recipients.get(run_id, 0) + int((report or {}).get("recipients") or 0)
    now = timezone.now()
    return [{"campaign": c, "version": c.latest_number, "last_run": runs.get(c.last_run_pk),
             "recipients": recipients.get(c.last_run_pk), "next_launch": next_launch(c, workspace, now)}
            for c in campaigns]


def next_launch(campaign, workspace: Workspace, now) -> Any:
    """When a live or scheduled campaign launches next (None: no schedule, or not active)."""
    if campaign.status not in (CampaignStatus.LIVE, CampaignStatus.SCHEDULED):
        return None
    try:
        schedule = campaign.schedule
    except ObjectDoesNotExist:
        return None
    try:
        upcoming = next_launches(parse_spec(schedule.spec, workspace.time_zone), after=now, count=1)
    except ValidationError:
        return None
    return upcoming[0] if upcoming else None
