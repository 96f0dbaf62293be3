"""The campaign list (with a new-campaign form) and the campaign-wide actions: test run,
duplicate, and the approver's lifecycle (publish, start, pause, resume, close, stop,
archive) and the confirmation-before-send setting."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.htmx import add_errors, go
from apps.core.siteurl import request_origin
from apps.tenants.decorators import can_edit, workspace_view

from .. import services
from ..forms import CampaignCreateForm
from ..models import CampaignSchedule
from ..selectors import access_campaign
from ._common import APPROVER, campaign_overview
from .approvals import confirm_page, shown


def _detail(workspace_slug: str, pk: int) -> str:
    return reverse("camp-detail", kwargs={"workspace_slug": workspace_slug, "pk": pk})


def _run_url(workspace_slug: str, pk: int) -> str:
    return reverse("camp-run", kwargs={"workspace_slug": workspace_slug, "pk": pk})


@require_http_methods(["GET", "POST"])
@workspace_view()
def campaign_list(request, workspace_slug):
    """Every campaign with its status, next launch, last run and what it reached; a
    marketer creates one here (it opens on the canvas with its Start)."""
    form = CampaignCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(workspace=request.workspace, actor=request.user,
                                                name=form.cleaned_data["name"],
                                                description=form.cleaned_data["description"])
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"The campaign {campaign.name} was created: add its first activity "
                                      "after the Start.")
            return go(request, f"{_detail(workspace_slug, campaign.pk)}?node=start")
    context = {"rows": campaign_overview(workspace=request.workspace), "form": form,
               "can_edit": can_edit(request), "create_open": request.method == "POST"}
    return render(request, "campaigns/list.html", context, status=422 if form.errors else 200)


def _problems_message(request, prefix: str, exc: ValidationError) -> None:
    """A refusal in words; a graph's problems each name their activity."""
    messages.error(request, f"{prefix} " + " ".join(exc.messages))


@require_POST
@workspace_view()
def campaign_test_run(request, workspace_slug, pk):
    """Run the latest version in test mode (nothing is sent) and follow it on its page."""
    campaign = access_campaign(request.user, request.workspace, pk)
    try:
        run = services.test_run_start(workspace=request.workspace, actor=request.user, campaign=campaign,
                                      site_url=request_origin(request),
                                      skip_waits=request.POST.get("skip_waits") == "on")
    except ValidationError as exc:
        _problems_message(request, "The test run cannot start:", exc)
        return go(request, _detail(workspace_slug, campaign.pk))
    messages.success(request, f"Test run #{run.pk} of version {run.version.number} started: nothing is sent"
                              + (", and waits are skipped." if run.skip_waits else "."))
    return go(request, _run_url(workspace_slug, run.pk))


@require_POST
@workspace_view()
def campaign_duplicate(request, workspace_slug, pk):
    campaign = access_campaign(request.user, request.workspace, pk)
    copy = services.campaign_duplicate(workspace=request.workspace, actor=request.user, campaign=campaign)
    messages.success(request, f"{campaign.name} was duplicated as {copy.name}.")
    return go(request, _detail(workspace_slug, copy.pk))


LIFECYCLE = {
    "publish": (services.campaign_publish, "{campaign} is published as version {result.number}."),
    "start": (services.campaign_start, "Run #{result.pk} of {campaign} started."),
    "pause": (services.campaign_pause, "{campaign} is paused: no new run starts. "
                                       "Paused: {result.held:,} messages held."),
    "resume": (services.campaign_resume, "{campaign} is live again: {result.released:,} held messages released."),
    "close": (services.campaign_close, "{campaign} is closed: it takes no new runs."),
    "stop": (services.campaign_stop, "{campaign} is stopped. Stopped: {result.cancelled:,} queued messages "
                                     "cancelled."),
    "archive": (services.campaign_archive, "{campaign} is archived."),
}


def _sends_now(campaign, action: str):
    """The version an action is about to send, when it needs a "Send to N recipients?"
    confirmation first: starting a live run, or publishing a campaign whose schedule is a
    one-off (publishing is what sends it). None: nothing to confirm (or the service refuses)."""
    if action == "start":
        return services.published_version(campaign) if campaign.status in ("live", "scheduled") else None
    if action == "publish" and CampaignSchedule.objects.filter(campaign=campaign, spec__kind="once").exists():
        version = services.latest_version(campaign)
        return None if version.is_published else version
    return None


@require_POST
@workspace_view(write_role=APPROVER)
def campaign_lifecycle(request, workspace_slug, pk):
    """An approver's action on the campaign, named by `action`."""
    campaign = access_campaign(request.user, request.workspace, pk)
    action = request.POST.get("action", "")
    if action == "confirm_before_send":
        wanted = request.POST.get("value") == "on"
        services.campaign_update(workspace=request.workspace, actor=request.user, campaign=campaign,
                                 confirm_before_send=wanted)
        messages.success(request, f"Live runs of {campaign.name} now wait for an approver's confirmation before "
                                  "their first send." if wanted else
                                  f"Live runs of {campaign.name} send without waiting for a confirmation.")
        return go(request, _detail(workspace_slug, campaign.pk))
    if action not in LIFECYCLE:
        messages.error(request, "Unknown action.")
        return go(request, _detail(workspace_slug, campaign.pk))
    service, done = LIFECYCLE[action]
    extra = {}
    sends_now = _sends_now(campaign, action)
    if sends_now is not None:
        if request.POST.get("confirmed") != "1":
            return confirm_page(request, campaign, version=sends_now, action=action,
                                post_to=reverse("camp-lifecycle", kwargs={"workspace_slug": workspace_slug,
                                                                          "pk": campaign.pk}))
        extra["confirmed"] = shown(request)
    if action == "start":
        extra["site_url"] = request_origin(request)
    try:
        result = service(workspace=request.workspace, actor=request.user, campaign=campaign, **extra)
    except ValidationError as exc:
        _problems_message(request, f"Cannot {action}:", exc)
        return go(request, _detail(workspace_slug, campaign.pk))
    messages.success(request, done.format(campaign=campaign.name, result=result))
    if action == "start":
        return go(request, _run_url(workspace_slug, result.pk))
    return go(request, _detail(workspace_slug, campaign.pk))

