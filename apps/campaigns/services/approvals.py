"""Approval of a campaign: a marketer asks, an approver of the workspace (role approver or
workspace admin, or an owner/admin of the agency) comments, approves (= publishes the
version as it was asked) or sends it back with a reason.

Who may decide: never the person who asked (four eyes by default; an approver who wants
to publish their own work publishes directly, as before). A partner's approver API key may
decide on a person's request; a request made with a key is decided by a person. Roles are checked by the callers
(views, API), the requester rule here, so no door forgets it. Every step is in the audit
log and in the request's thread; the approvers get an email when asked, the requester
when decided."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apps.tenants.models import Workspace
from apps.tenants.roles import WorkspaceRole, at_least
from apps.tenants.selectors import workspace_members
from apps.tenants.services import audit_record

from ..graph import check_graph
from ..models import (
    ApprovalEvent,
    ApprovalEventKind,
    ApprovalRequest,
    ApprovalStatus,
    Campaign,
    CampaignStatus,
    CampaignVersion,
)

# A comment or a reason is read in a thread and in an email: long enough for a paragraph.
MAX_TEXT = 2000


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _text(value: str, *, field: str, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: "Write a few words."})
    if len(value) > MAX_TEXT:
        raise ValidationError({field: f"At most {MAX_TEXT} characters ({len(value)} given)."})
    return value


def approvers(*, workspace: Workspace) -> list[Any]:
    """Everyone who may decide on a request: approvers and admins of the workspace, and the
    owners and admins of its agency."""
    return [m.user for m in workspace_members(workspace=workspace)
            if at_least(m.role, WorkspaceRole.APPROVER) and m.user.is_active]


def _campaign_url(campaign: Campaign) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(
        "camp-detail", kwargs={"workspace_slug": campaign.workspace.slug, "pk": campaign.pk})


def _notify(recipients: list[str], subject: str, body: str) -> None:
    """Plain-text mail through the platform's backend, after the commit (like invitations)."""
    recipients = sorted({r for r in recipients if r})
    if recipients:
        transaction.on_commit(lambda: send_mail(subject=subject, message=body, from_email=None,
                                                recipient_list=recipients))


def open_request(campaign: Campaign) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(campaign=campaign, status=ApprovalStatus.OPEN).first()


def approval_request(*, workspace: Workspace, actor: Any, campaign: Campaign, note: str = "") -> ApprovalRequest:
    """Ask the workspace's approvers to publish the latest draft. It must be complete (as
    publishing demands) and nothing may be waiting already."""
    note = _text(note, field="note", required=False)
    if campaign.status in (CampaignStatus.ARCHIVED, CampaignStatus.CLOSED):
        raise ValidationError(f"A {campaign.status} campaign cannot be published, so there is nothing to approve.")
    with transaction.atomic():
        Campaign.objects.select_for_update().get(workspace=workspace, pk=campaign.pk)
        version = CampaignVersion.objects.filter(campaign=campaign).order_by("-number").first()
        if version.is_published:
            raise ValidationError("There is nothing new to approve: the latest version is published.")
        if open_request(campaign) is not None:
            raise ValidationError("Approval is already requested; comment on the request instead.")
        check_graph(workspace=workspace, definition=version.definition, complete=True, publishing=True)
        try:
            with transaction.atomic():
                request = ApprovalRequest.objects.create(
                    workspace=workspace, campaign=campaign, version=version, definition=version.definition,
                    requested_by=_actor(actor))
        except IntegrityError:  # a concurrent request won the unique key
            raise ValidationError("Approval is already requested; comment on the request instead.") from None
        ApprovalEvent.objects.create(workspace=workspace, request=request, kind=ApprovalEventKind.REQUESTED,
                                     author=_actor(actor), body=note)
        audit_record(workspace=workspace, actor=actor, verb="campaign.approval_requested", target=campaign,
                     data={"version": version.number, "request": request.pk})
    who = getattr(actor, "display_name", "") or "A marketer"
    requester = getattr(_actor(actor), "pk", None)
    _notify([u.email for u in approvers(workspace=workspace) if u.pk != requester],
            f"Approval requested: {campaign.name} ({workspace.name})",
            f"{who} asks you to approve version {version.number} of the campaign {campaign.name} in "
            f"{workspace.name}.\n\n" + (f"Their note: {note}\n\n" if note else "")
            + f"Review, comment, approve or send it back: {_campaign_url(campaign)}\n")
    return request


def approval_comment(*, workspace: Workspace, actor: Any, request: ApprovalRequest, body: str) -> ApprovalEvent:
    """A comment in the request's thread (open requests only: a decided one is history)."""
    body = _text(body, field="body", required=True)
    if request.status != ApprovalStatus.OPEN:
        raise ValidationError("This request is decided; comments go on an open request.")
    event = ApprovalEvent.objects.create(workspace=workspace, request=request, kind=ApprovalEventKind.COMMENT,
                                         author=_actor(actor), body=body)
    audit_record(workspace=workspace, actor=actor, verb="campaign.approval_commented", target=request.campaign,
                 data={"request": request.pk})
    return event


def _decide(workspace: Workspace, actor: Any, request: ApprovalRequest) -> ApprovalRequest:
    """Lock the request and check that the actor may decide on it."""
    locked = ApprovalRequest.objects.select_for_update().select_related("campaign", "version").get(
        workspace=workspace, pk=request.pk)
    if locked.status != ApprovalStatus.OPEN:
        raise ValidationError(f"This request is already {locked.get_status_display().lower()}.")
    person = getattr(_actor(actor), "pk", None)
    if person is None and locked.requested_by_id is None:
        # Neither side names a person (an API key asked, a key or the system decides):
        # nothing shows that a second pair of eyes looked.
        raise ValidationError("This request names no person who asked, so an approver decides signed in.")
    if person is not None and person == locked.requested_by_id:
        raise ValidationError("You asked for this approval: another approver decides on it.")
    return locked


def approval_approve(*, workspace: Workspace, actor: Any, request: ApprovalRequest, note: str = "",
                     confirmed: dict | None = None) -> CampaignVersion:
    """Publish the version as it was asked (refused if it was edited since)."""
    from .campaigns import campaign_publish  # noqa: PLC0415 (campaigns imports this module)

    note = _text(note, field="note", required=False)
    with transaction.atomic():
        locked = _decide(workspace, actor, request)
        version = CampaignVersion.objects.get(pk=locked.version_id)
        if version.definition != locked.definition:
            raise ValidationError("The campaign was edited after approval was requested: send it back so the "
                                  "marketer requests approval of the new draft.")
        published = campaign_publish(workspace=workspace, actor=actor, campaign=locked.campaign, approval=locked,
                                     confirmed=confirmed)
        if note:
            ApprovalEvent.objects.create(workspace=workspace, request=locked, kind=ApprovalEventKind.COMMENT,
                                         author=_actor(actor), body=note)
    _notify([getattr(locked.requested_by, "email", "")],
            f"Approved: {locked.campaign.name} ({workspace.name})",
            f"{getattr(actor, 'display_name', 'An approver')} approved version {published.number} of "
            f"{locked.campaign.name}: it is published.\n\n{_campaign_url(locked.campaign)}\n")
    return published


def approval_close_published(*, workspace: Workspace, actor: Any, campaign: Campaign,
                             approval: ApprovalRequest | None) -> None:
    """Called by publishing: the open request (if any) is approved by whoever published,
    with the thread saying so. Inside publishing's transaction."""
    target = approval or open_request(campaign)
    if target is None:
        return
    now = timezone.now()
    ApprovalRequest.objects.filter(pk=target.pk).update(status=ApprovalStatus.APPROVED,
                                                        decided_by=_actor(actor), decided_at=now)
    ApprovalEvent.objects.create(workspace=workspace, request=target, kind=ApprovalEventKind.APPROVED,
                                 author=_actor(actor), body="" if approval else "Published directly.")
    audit_record(workspace=workspace, actor=actor, verb="campaign.approval_approved", target=campaign,
                 data={"request": target.pk, "version": target.version.number})


def approval_send_back(*, workspace: Workspace, actor: Any, request: ApprovalRequest, reason: str) -> ApprovalRequest:
    """Refuse with a reason: the campaign stays a draft; the marketer edits and asks again."""
    reason = _text(reason, field="reason", required=True)
    with transaction.atomic():
        locked = _decide(workspace, actor, request)
        locked.status = ApprovalStatus.SENT_BACK
        locked.decided_by = _actor(actor)
        locked.decided_at = timezone.now()
        locked.reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "reason"])
        ApprovalEvent.objects.create(workspace=workspace, request=locked, kind=ApprovalEventKind.SENT_BACK,
                                     author=_actor(actor), body=reason)
        audit_record(workspace=workspace, actor=actor, verb="campaign.approval_sent_back", target=locked.campaign,
                     data={"request": locked.pk, "version": locked.version.number})
    _notify([getattr(locked.requested_by, "email", "")],
            f"Sent back: {locked.campaign.name} ({workspace.name})",
            f"{getattr(actor, 'display_name', 'An approver')} sent version {locked.version.number} of "
            f"{locked.campaign.name} back:\n\n{reason}\n\n{_campaign_url(locked.campaign)}\n")
    return locked
