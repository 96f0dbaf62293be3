"""Reads of campaigns, versions, runs and activity runs."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import Http404

from apps.tenants.models import Workspace

from .activities import REGISTRY
from .models import ActivityRun, ApprovalRequest, ApprovalStatus, Campaign, CampaignVersion, Run


def campaign_list(*, workspace: Workspace) -> QuerySet[Campaign]:
    return Campaign.objects.filter(workspace=workspace).select_related("created_by")


def with_summary(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """Each campaign with its latest and published version numbers and its last run, in
    the one query of the list (subqueries, not a query per row)."""
    versions = CampaignVersion.objects.filter(campaign=OuterRef("pk")).order_by("-number").values("number")
    last_run = Run.objects.filter(campaign=OuterRef("pk")).order_by("-created_at", "-id")
    return campaigns.annotate(
        latest_version_number=Subquery(versions[:1]),
        published_version_number=Subquery(versions.filter(published_at__isnull=False)[:1]),
        last_run_id=Subquery(last_run.values("pk")[:1]),
        last_run_status=Subquery(last_run.values("status")[:1]),
        last_run_mode=Subquery(last_run.values("mode")[:1]),
        last_run_created_at=Subquery(last_run.values("created_at")[:1]),
    )


def access_campaign(actor: Any, workspace: Workspace, pk: Any) -> Campaign:
    try:
        return campaign_list(workspace=workspace).get(pk=pk)
    except (Campaign.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


def access_run(actor: Any, workspace: Workspace, pk: Any) -> Run:
    try:
        return Run.objects.select_related("campaign", "version").get(workspace=workspace, pk=pk)
    except (Run.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


def access_activity_run(actor: Any, workspace: Workspace, run_pk: Any, node_id: str) -> ActivityRun:
    activity = None
    try:
        activity = ActivityRun.objects.filter(workspace=workspace, run_id=run_pk, node_id=node_id).first()
    except (ValueError, TypeError):
        pass
    if activity is None:
        raise Http404("Not found.")
    return activity


def version_list(*, campaign: Campaign) -> QuerySet[CampaignVersion]:
    return campaign.versions.select_related("published_by", "edited_by").order_by("-number")


def run_list(*, campaign: Campaign) -> QuerySet[Run]:
    return campaign.runs.select_related("version", "created_by", "confirmed_by").order_by("-created_at", "-id")


def run_activities(*, run: Run) -> list[ActivityRun]:
    return list(ActivityRun.objects.filter(run=run).order_by("id"))


def edge_counts(*, run: Run) -> dict[tuple[str, str, str], int | None]:
    """The row count on every edge of the run's graph: (from, outlet, to) -> rows."""
    activities = {a.node_id: a for a in run_activities(run=run)}
    counts = {}
    for edge in run.version.definition.get("edges", []):
        source = activities.get(edge.get("from"))
        outlet = (source.outlets or {}).get(edge.get("outlet", "out")) if source else None
        counts[(edge.get("from"), edge.get("outlet", "out"), edge.get("to"))] = outlet.get("count") if outlet else None
    return counts


def activity_catalog() -> list[dict[str, Any]]:
    """The activities a canvas offers, with their inputs and whether they send."""
    return [{"type": a.type, "label": a.label, "min_inputs": a.min_inputs, "max_inputs": a.max_inputs,
             "start": a.is_start, "channel": a.sends} for a in REGISTRY.values()]


def campaign_health_by_workspace(workspace_ids: list[int], *, since) -> dict[int, dict[str, int]]:
    """Per workspace: campaigns live and scheduled, and runs that failed since `since`
    (two grouped queries, whatever the number of workspaces)."""
    found = {pk: {"live": 0, "scheduled": 0, "failed_runs": 0} for pk in workspace_ids}
    for workspace_id, status, n in (Campaign.objects.filter(workspace_id__in=workspace_ids,
                                                            status__in=["live", "scheduled"])
                                    .values_list("workspace_id", "status").annotate(n=Count("*")).order_by()):
        found[workspace_id][status] = n
    for workspace_id, n in (Run.objects.filter(workspace_id__in=workspace_ids, status="failed", created_at__gte=since)
                            .values_list("workspace_id").annotate(n=Count("*")).order_by()):
        found[workspace_id]["failed_runs"] = n
    return found


def approval_stage(version: CampaignVersion, latest: ApprovalRequest | None) -> str:
    """Where the latest version stands: draft, awaiting, sent_back, approved or published
    (published without a request, or by an earlier one)."""
    if version.is_published:
        approved = latest is not None and latest.version_id == version.pk and latest.status == ApprovalStatus.APPROVED
        return "approved" if approved else "published"
    if latest is not None and latest.status == ApprovalStatus.OPEN:
        return "awaiting"
    if latest is not None and latest.status == ApprovalStatus.SENT_BACK and latest.version_id == version.pk:
        return "sent_back"
    return "draft"
