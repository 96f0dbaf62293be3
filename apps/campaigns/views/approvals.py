"""Approvals: the workspace's list of requests (open first, with a count in the workspace
navigation), and the approval actions of a campaign's page: a marketer requests approval,
members of at least the marketer role comment, approvers approve (publish) or send back
with a reason. Who approves: approvers and workspace admins (and the agency's owners and
admins), never the one who asked; they may still publish their own work directly."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from apps.core.htmx import go
from apps.tenants.decorators import can_approve, workspace_view

from .. import services
from ..models import ApprovalRequest, ApprovalStatus, CampaignSchedule
from ..selectors import access_campaign, approval_stage
from ..send_estimate import send_estimate

STAGE_LABELS = {"draft": "Draft", "awaiting": "Awaiting approval", "sent_back": "Sent back", "approved": "Approved",
                "published": "Published"}
# The decided requests the list shows under the open ones.
RECENT_DECIDED = 20


def _open(workspace):
    return ApprovalRequest.objects.filter(workspace=workspace, status=ApprovalStatus.OPEN)


@require_GET
@workspace_view()
def approval_list(request, workspace_slug):
    """Open requests (oldest first: they waited longest) and the latest decided ones."""
    base = ApprovalRequest.objects.filter(workspace=request.workspace).select_related(
        "campaign", "version", "requested_by", "decided_by")
    context = {"open": list(base.filter(status=ApprovalStatus.OPEN).order_by("created_at", "id")),
               "decided": list(base.exclude(status=ApprovalStatus.OPEN).order_by("-decided_at", "-id")[:RECENT_DECIDED]),
               "can_approve": can_approve(request)}
    return render(request, "campaigns/approvals.html", context)


@require_GET
@workspace_view()
def approval_count(request, workspace_slug):
    """The count beside "Approvals" in the navigation, loaded after the page (so no page
    pays for it): empty when nothing waits."""
    n = _open(request.workspace).count()
    response = HttpResponse(f'<span class="badge nav-count" id="approvals-count" title="{n} awaiting approval">{n}'
                            "</span>" if n else '<span id="approvals-count"></span>')
    add_never_cache_headers(response)
    return response


def _detail(workspace_slug: str, pk: int) -> str:
    return reverse("camp-detail", kwargs={"workspace_slug": workspace_slug, "pk": pk})


def _current(campaign) -> ApprovalRequest:
    current = services.open_request(campaign)
    if current is None:
        raise ValidationError("No approval is requested for this campaign.")
    return current


@require_POST
@workspace_view(write_role="marketer")
def campaign_approval(request, workspace_slug, pk):
    """One approval action on the campaign, named by `action`: request, comment (any
    marketer), approve, send_back (approvers only)."""
    campaign = access_campaign(request.user, request.workspace, pk)
    action = request.POST.get("action", "")
    if action in ("approve", "send_back") and not can_approve(request):
        raise PermissionDenied("Approving or sending back needs the approver role.")
    ws, actor = request.workspace, request.user
    try:
        if action == "request":
            services.approval_request(workspace=ws, actor=actor, campaign=campaign, note=request.POST.get("note", ""))
            messages.success(request, f"Approval of {campaign.name} is requested: the approvers are notified.")
        elif action == "comment":
            services.approval_comment(workspace=ws, actor=actor, request=_current(campaign),
                                      body=request.POST.get("body", ""))
            messages.success(request, "Comment added.")
        elif action == "approve":
            current = _current(campaign)
            once = CampaignSchedule.objects.filter(campaign=campaign, spec__kind="once").exists()
            if once and request.POST.get("confirmed") != "1":
                return confirm_page(request, campaign, version=current.version, action="approve",
                                    post_to=reverse("camp-approval", kwargs={"workspace_slug": workspace_slug,
                                                                             "pk": campaign.pk}))
            version = services.approval_approve(workspace=ws, actor=actor, request=current,
                                                note=request.POST.get("note", ""),
                                                confirmed=shown(request) if once else None)
            messages.success(request, f"Approved: {campaign.name} is published as version {version.number}.")
        elif action == "send_back":
            services.approval_send_back(workspace=ws, actor=actor, request=_current(campaign),
                                        reason=request.POST.get("reason", ""))
            messages.success(request, f"{campaign.name} is sent back to its marketer.")
        else:
            messages.error(request, "Unknown action.")
    except ValidationError as exc:
        messages.error(request, "Not done: " + " ".join(exc.messages))
    return go(request, _detail(workspace_slug, campaign.pk))


def shown(request) -> dict:
    """What the confirmation page showed (sent back with the confirmation), for the audit
    log; bounded, since it comes from the browser."""
    try:
        recipients = max(0, min(int(request.POST.get("shown_recipients", "")), 10**12))
    except ValueError:
        recipients = None
    return {"recipients": recipients, "channels": request.POST.get("shown_channels", "")[:500],
            "complete": request.POST.get("shown_complete") == "1"}


def confirm_page(request, campaign, *, version, action: str, post_to: str) -> HttpResponse:
    """"Send to N recipients on these channels?": the same form again with confirmed=1."""
    estimate = send_estimate(version=version)
    fields = [(k, v) for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "confirmed")]
    return render(request, "campaigns/confirm_send.html", {
        "campaign": campaign, "version": version, "estimate": estimate, "action": action, "post_to": post_to,
        "fields": fields, "back": _detail(request.workspace.slug, campaign.pk)})


def approval_context(request, campaign, version) -> dict:
    """Where the campaign stands (draft / awaiting approval / approved / sent back), the
    thread of its requests, and what this member may do about it."""
    requests = list(ApprovalRequest.objects.filter(campaign=campaign).select_related(
        "version", "requested_by", "decided_by").prefetch_related("events__author").order_by("-created_at", "-id")[:5])
    latest = requests[0] if requests else None
    current = latest if latest is not None and latest.status == ApprovalStatus.OPEN else None
    stage = approval_stage(version, latest)
    mine = current is not None and current.requested_by_id == request.user.pk
    return {"approval": {"stage": stage, "stage_label": STAGE_LABELS[stage], "current": current, "latest": latest,
                         "requests": list(reversed(requests)), "mine": mine,
                         "changed": current is not None and current.definition != version.definition,
                         "may_decide": current is not None and can_approve(request) and not mine}}
