"""Writes of campaigns: create, edit (a draft version), validate, publish, test runs,
start, stop, pause/resume, close, archive, duplicate. Roles are checked by the callers
(views, API): marketers edit and test, approvers and workspace admins publish and start."""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.tenants.models import Workspace
from apps.tenants.services import audit_record

from .. import executor, hooks
from ..graph import check_graph
from ..models import (
    ApprovalRequest,
    Campaign,
    CampaignSchedule,
    CampaignStatus,
    CampaignVersion,
    Run,
    RunMode,
    RunStatus,
)
from .approvals import approval_close_published
from .beat import beat_sync

EMPTY_DEFINITION = {"nodes": [{"id": "start", "type": "start", "settings": {}}], "edges": []}
# What can happen in each state (the lifecycle of DESIGN.md).
EDITABLE = {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED,
            CampaignStatus.COMPLETED, CampaignStatus.STOPPED, CampaignStatus.CLOSED}


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _clean_name(workspace: Workspace, name: str, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "Give the campaign a name of 1-200 characters."})
    clash = Campaign.objects.filter(workspace=workspace, name=name)
    if exclude:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": f"A campaign named {name!r} already exists."})
    return name


class TriggerTooSoon(Exception):
    """The campaign was triggered over the API less than the minimum interval ago."""

    def __init__(self, retry_after: float):
        self.retry_after = retry_after
        super().__init__(f"This campaign was triggered less than {settings.CAMPAIGN_TRIGGER_MIN_INTERVAL_S} s ago; "
                         f"try again in {retry_after:.0f} s.")


def campaign_create(*, workspace: Workspace, actor: Any, name: str, description: str = "",
                    definition: dict | None = None) -> Campaign:
    """A draft campaign with its first version (a lone Start unless a definition is given;
    a given one may be incomplete but must be readable)."""
    # A copy: the default must never be shared (and mutated) between versions in memory.
    definition = copy.deepcopy(definition or EMPTY_DEFINITION)
    check_graph(workspace=workspace, definition=definition, complete=False)
    with transaction.atomic():
        campaign = Campaign.objects.create(workspace=workspace, name=_clean_name(workspace, name),
                                           description=description, created_by=_actor(actor))
        CampaignVersion.objects.create(workspace=workspace, campaign=campaign, number=1,
                                       definition=definition, edited_by=_actor(actor))
        audit_record(workspace=workspace, actor=actor, verb="campaign.created", target=campaign)
    return campaign


def campaign_update(*, workspace: Workspace, actor: Any, campaign: Campaign, name: str | None = None,
                    description: str | None = None, confirm_before_send: bool | None = None) -> Campaign:
    """Rename or re-describe a campaign, or ask for confirmation before a live run's first
    send (any state: it changes no version; a run already waiting keeps waiting)."""
    fields = []
    if confirm_before_send is not None and confirm_before_send != campaign.confirm_before_send:
        campaign.confirm_before_send = confirm_before_send
        fields.append("confirm_before_send")
    if name is not None:
        campaign.name = _clean_name(workspace, name, exclude=campaign.pk)
        fields.append("name")
    if description is not None:
        campaign.description = description
        fields.append("description")
    if fields:
        campaign.save(update_fields=[*fields, "updated_at"])
        audit_record(workspace=workspace, actor=actor, verb="campaign.updated", target=campaign,
                     data={"fields": fields})
    return campaign


def campaign_delete(*, workspace: Workspace, actor: Any, campaign: Campaign) -> None:
    """Only a draft that never ran and was never published goes away; anything else has a
    history (runs, sends) and is archived instead."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(workspace=workspace, pk=campaign.pk)
        if (locked.status != CampaignStatus.DRAFT or Run.objects.filter(campaign=locked).exists()
                or published_version(locked) is not None):
            raise ValidationError("Only a draft campaign that never ran can be deleted; archive this one instead.")
        audit_record(workspace=workspace, actor=actor, verb="campaign.deleted", target=locked)
        locked.delete()


def latest_version(campaign: Campaign) -> CampaignVersion:
    return campaign.versions.order_by("-number").first()


def published_version(campaign: Campaign) -> CampaignVersion | None:
    return campaign.versions.filter(published_at__isnull=False).order_by("-number").first()


def draft_save(*, workspace: Workspace, actor: Any, campaign: Campaign, definition: dict) -> CampaignVersion:
    """Save the definition being edited. A published version never changes: editing a
    published campaign makes a new draft version. (A draft may be incomplete.)"""
    if campaign.status == CampaignStatus.ARCHIVED:
        raise ValidationError("An archived campaign cannot be edited; duplicate it.")
    check_graph(workspace=workspace, definition=definition, complete=False)
    with transaction.atomic():
        version = CampaignVersion.objects.select_for_update().filter(campaign=campaign).order_by("-number").first()
        if version.is_published:
            version = CampaignVersion.objects.create(workspace=workspace, campaign=campaign,
                                                     number=version.number + 1, definition=definition,
                                                     edited_by=_actor(actor))
        else:
            version.definition = definition
            version.edited_by = _actor(actor)
            version.save(update_fields=["definition", "edited_by", "updated_at"])
        Campaign.objects.filter(pk=campaign.pk).update(updated_at=timezone.now())
    return version


def campaign_validate(*, workspace: Workspace, campaign: Campaign) -> None:
    """Everything publishing demands; raises GraphError naming each activity."""
    check_graph(workspace=workspace, definition=latest_version(campaign).definition, complete=True,
                publishing=True)


def campaign_publish(*, workspace: Workspace, actor: Any, campaign: Campaign,
                     approval: ApprovalRequest | None = None, confirmed: dict | None = None) -> CampaignVersion:
    """Freeze the latest version. (Schedules are written by `services.schedules`.) An open
    approval request is closed as approved by the publisher (`approval`: the one being
    approved, when publishing is the approval itself). `confirmed`: what the person was shown
and accepted before a one-off send ({"recipients", "channels"}), kept in the audit log."""
    if campaign.status in (CampaignStatus.ARCHIVED, CampaignStatus.CLOSED):
        raise ValidationError(f"A {campaign.status} campaign cannot be published.")
    with transaction.atomic():
        version = CampaignVersion.objects.select_for_update().filter(campaign=campaign).order_by("-number").first()
        if version.is_published:
            raise ValidationError("There is nothing new to publish: the latest version is published.")
        _four_eyes_check(workspace=workspace, actor=actor, version=version)
        check_graph(workspace=workspace, definition=version.definition, complete=True, publishing=True)
        version.published_at = timezone.now()
        version.published_by = _actor(actor)
        version.save(update_fields=["published_at", "published_by"])
        if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.COMPLETED, CampaignStatus.STOPPED):
            scheduled = CampaignSchedule.objects.filter(campaign=campaign).exists()
            Campaign.objects.filter(pk=campaign.pk).update(
                status=CampaignStatus.SCHEDULED if scheduled else CampaignStatus.LIVE)
            campaign.refresh_from_db()
        beat_sync(campaign=campaign)
        audit_record(workspace=workspace, actor=actor, verb="campaign.published", target=campaign,
                     data={"version": version.number, **({"confirmed": confirmed} if confirmed else {})})
        approval_close_published(workspace=workspace, actor=actor, campaign=campaign, approval=approval)
    return version


def _four_eyes_check(*, workspace: Workspace, actor: Any, version: CampaignVersion) -> None:
    """With the workspace's four-eyes rule on, the publisher must not be the last editor.
    An API key names no person, so it cannot show that a second one looked: refused too."""
    if not workspace.four_eyes:
        return
    publisher = getattr(_actor(actor), "pk", None)
    if publisher is None:
        raise ValidationError("four-eyes rule: an approver must publish signed in (an API key or the system "
                              "names no person who checked the last edit).")
    if publisher == version.edited_by_id:
        raise ValidationError(f"four-eyes rule: version {version.number} was last edited by you; "
                              "another approver must publish it.")


def test_run_start(*, workspace: Workspace, actor: Any, campaign: Campaign, site_url: str = "",
                   skip_waits: bool = False) -> Run:
    """Run the latest version in test mode: everything runs, nothing is sent. With
    `skip_waits`, its Waits go on at once (each reports until when it would have waited)."""
    if campaign.status == CampaignStatus.ARCHIVED:
        raise ValidationError("An archived campaign cannot run; duplicate it.")
    version = latest_version(campaign)
    run = executor.run_create(campaign=campaign, version=version, mode=RunMode.TEST, actor=actor,
                              site_url=site_url, skip_waits=skip_waits)
    audit_record(workspace=workspace, actor=actor, verb="campaign.test_run", target=campaign,
                 data={"run": run.pk, "version": version.number, "skip_waits": skip_waits})
    return run


def campaign_start(*, workspace: Workspace, actor: Any, campaign: Campaign, trigger: str = "manual",
                   scheduled_for=None, variables: dict | None = None, site_url: str = "",
                   confirmed: dict | None = None, exempt: str = "") -> Run:
    """Run the published version live. `site_url`: the address it was started on
    (apps.core.siteurl.request_origin), for its messages' links when SITE_URL is unset.
    `confirmed`: what the person starting it was shown
    and accepted ({"recipients", "channels"}); a start without it (a partner's API call, a
    schedule) is exempt from the confirmation, and the audit log says so (`exempt`: why,
    the trigger when not given)."""
    version = _startable(campaign)
    run = executor.run_create(campaign=campaign, version=version, mode=RunMode.LIVE, actor=actor, trigger=trigger,
                              scheduled_for=scheduled_for, variables=variables, site_url=site_url)
    audit_record(workspace=workspace, actor=actor, verb="campaign.started", target=campaign,
                 data={"run": run.pk, "trigger": trigger, "version": version.number,
                       **({"confirmed": confirmed} if confirmed else {"confirmation": f"exempt ({exempt or trigger})"})})
    return run


def _startable(campaign: Campaign) -> CampaignVersion:
    if campaign.status not in (CampaignStatus.LIVE, CampaignStatus.SCHEDULED):
        raise ValidationError(f"Only a published, live campaign can start; this one is {campaign.status}.")
    version = published_version(campaign)
    if version is None:
        raise ValidationError("Publish the campaign first.")
    return version


def campaign_trigger(*, workspace: Workspace, actor: Any, campaign: Campaign, variables: dict | None = None,
                     site_url: str = "") -> Run:
    """A partner's trigger: a live run of the published version with the partner's
    variables, at most once per CAMPAIGN_TRIGGER_MIN_INTERVAL_S (TriggerTooSoon otherwise).

    The campaign row is locked before the last API-triggered run is looked at, so two
    concurrent triggers are serialized: the second sees the first's run and is refused."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(workspace=workspace, pk=campaign.pk)
        _startable(locked)
        last = (Run.objects.filter(workspace=workspace, campaign=locked, trigger="api")
                .order_by("-created_at").values_list("created_at", flat=True).first())
        if last is not None:
            age = (timezone.now() - last).total_seconds()
            if age < settings.CAMPAIGN_TRIGGER_MIN_INTERVAL_S:
                raise TriggerTooSoon(settings.CAMPAIGN_TRIGGER_MIN_INTERVAL_S - age)
        return campaign_start(workspace=workspace, actor=actor, campaign=locked, trigger="api", variables=variables,
                              site_url=site_url, exempt="partner trigger over the API")


def run_stop(*, workspace: Workspace, actor: Any, run: Run) -> Run:
    """Stop one run: nothing new starts in it and its queued messages are cancelled
    (`run.cancelled` says how many)."""
    cancelled = executor.run_stop(run=run)
    audit_record(workspace=workspace, actor=actor, verb="campaign.run_stopped", target=run.campaign,
                 data={"run": run.pk, "cancelled": cancelled})
    run.refresh_from_db()
    run.cancelled = cancelled
    return run


def run_confirm(*, workspace: Workspace, actor: Any, run: Run) -> Run:
    """Confirm the first send of a live run of a campaign with `confirm_before_send`:
    records who and when; the channel activities waiting at the gate go on."""
    queued = executor.run_confirm(run=run, actor=actor)
    audit_record(workspace=workspace, actor=actor, verb="campaign.run_confirmed", target=run.campaign,
                 data={"run": run.pk, "activities": queued})
    run.refresh_from_db()
    return run


def _transition(workspace, actor, campaign, allowed, to, verb) -> Campaign:
    if campaign.status not in allowed:
        raise ValidationError(f"A {campaign.status} campaign cannot be {verb}.")
    Campaign.objects.filter(pk=campaign.pk).update(status=to, updated_at=timezone.now())
    audit_record(workspace=workspace, actor=actor, verb=f"campaign.{verb}", target=campaign)
    campaign.refresh_from_db()
    beat_sync(campaign=campaign)  # paused, closed, stopped, archived: the beat entry is disabled
    return campaign


def _open_runs(campaign: Campaign):
    return Run.objects.filter(campaign=campaign, status__in=[RunStatus.QUEUED, RunStatus.RUNNING])


def campaign_pause(*, workspace, actor, campaign):
    """No new runs start while paused (schedules are skipped); the deliveries of its
    running runs hold their queued messages (`campaign.held` says how many) until resumed."""
    with transaction.atomic():
        campaign = _transition(workspace, actor, campaign, {CampaignStatus.LIVE, CampaignStatus.SCHEDULED},
                               CampaignStatus.PAUSED, "paused")
        campaign.held = sum(hooks.notify("pause", run) for run in _open_runs(campaign))
    return campaign


def campaign_resume(*, workspace, actor, campaign):
    """Live (or scheduled) again; held deliveries send again (`campaign.released`)."""
    scheduled = CampaignSchedule.objects.filter(campaign=campaign).exists()
    with transaction.atomic():
        campaign = _transition(workspace, actor, campaign, {CampaignStatus.PAUSED},
                               CampaignStatus.SCHEDULED if scheduled else CampaignStatus.LIVE, "resumed")
        campaign.released = sum(hooks.notify("resume", run) for run in _open_runs(campaign))
    return campaign


def campaign_close(*, workspace, actor, campaign):
    """A recurring campaign takes no new runs; the current one finishes (what a pause
    held is released)."""
    was_paused = campaign.status == CampaignStatus.PAUSED
    with transaction.atomic():
        campaign = _transition(workspace, actor, campaign, {CampaignStatus.LIVE, CampaignStatus.SCHEDULED,
                                                            CampaignStatus.PAUSED}, CampaignStatus.CLOSED, "closed")
        if was_paused:
            for run in _open_runs(campaign):
                hooks.notify("resume", run)
    return campaign


def campaign_stop(*, workspace, actor, campaign):
    """Stop everything: running runs stop, their queued messages are cancelled
    (`campaign.cancelled` says how many), no new runs start."""
    with transaction.atomic():
        cancelled = sum(executor.run_stop(run=run) for run in _open_runs(campaign))
        campaign = _transition(workspace, actor, campaign, EDITABLE - {CampaignStatus.DRAFT}, CampaignStatus.STOPPED,
                               "stopped")
        campaign.cancelled = cancelled
    return campaign


def campaign_archive(*, workspace, actor, campaign):
    if Run.objects.filter(campaign=campaign, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
        raise ValidationError("Stop the campaign's running runs before archiving it.")
    return _transition(workspace, actor, campaign, EDITABLE, CampaignStatus.ARCHIVED, "archived")


def campaign_duplicate(*, workspace: Workspace, actor: Any, campaign: Campaign, name: str = "") -> Campaign:
    base = name or f"{campaign.name} (copy)"
    candidate, n = base, 2
    while not name and Campaign.objects.filter(workspace=workspace, name=candidate).exists():
        candidate, n = f"{base} {n}", n + 1
    return campaign_create(workspace=workspace, actor=actor, name=candidate, description=campaign.description,
                           definition=latest_version(campaign).definition)


def activity_retry(*, workspace: Workspace, actor: Any, run: Run, node_id: str):
    """Retry a failed activity of a run (after fixing what made it fail)."""
    activity = executor.activity_retry(run=run, node_id=node_id)
    audit_record(workspace=workspace, actor=actor, verb="campaign.activity_retried", target=run.campaign,
                 data={"run": run.pk, "activity": node_id})
    return activity
