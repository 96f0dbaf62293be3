"""The lifecycle over the API (approvers and workspace admins): publish, start, stop, pause,
resume, close, archive, and a partner's trigger with variables, rate-limited per campaign."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.siteurl import request_origin
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import selectors, services
from . import serializers as s
from .campaigns import campaign_body, run_accepted
from .common import CONFLICT, PROBLEMS, TAGS, lifecycle

TOO_SOON = OpenApiResponse(s.ConflictDetail, description="Triggered less than the minimum interval ago; the `Retry-After` "
                                                 "header says in how many seconds it may be triggered again.")


class _ApproverApi(WorkspaceScopedMixin, APIView):
    write_role = WorkspaceRole.APPROVER

    def transition(self, request, pk, service: Callable) -> Response:
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        with lifecycle():
            service(workspace=self.workspace, actor=request.user, campaign=campaign)
        return Response(campaign_body(self, request, campaign))


class CampaignPublishApi(_ApproverApi):
    @extend_schema(tags=TAGS, operation_id="campaigns_publish", request=None,
                   responses={200: s.CampaignOutput, 400: PROBLEMS, 409: CONFLICT},
                   description="Freezes the latest version (checked as `validate/` does); a draft campaign "
                               "becomes live. Editing afterwards makes a new draft version.")
    def post(self, request, workspace_slug, pk):
        return self.transition(request, pk, services.campaign_publish)


class CampaignStartApi(_ApproverApi):
    @extend_schema(tags=TAGS, operation_id="campaigns_start", request=None,
                   responses={202: s.RunOutput, 409: CONFLICT},
                   description="A live run of the published version, now. Workers run it: poll the run's `url`.")
    def post(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        with lifecycle():
            run = services.campaign_start(workspace=self.workspace, actor=request.user, campaign=campaign,
                                          site_url=request_origin(request),
                                          exempt="API call")
        return run_accepted(self, request, run)


class CampaignTriggerApi(_ApproverApi):
    @extend_schema(tags=TAGS, operation_id="campaigns_trigger", request=s.CampaignTriggerInput,
                   responses={202: s.RunOutput, 409: CONFLICT, 429: TOO_SOON},
                   description="For partners: a live run of the published version with `variables`, kept on "
                               "the run. One trigger per campaign per minimum interval (60 s by default); an "
                               "earlier one is a 429 with `Retry-After`.")
    def post(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        data = s.CampaignTriggerInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            with lifecycle():
                run = services.campaign_trigger(workspace=self.workspace, actor=request.user, campaign=campaign,
                                                variables=data.validated_data["variables"],
                                                site_url=request_origin(request))
        except services.TriggerTooSoon as exc:
            raise Throttled(wait=exc.retry_after, detail=str(exc)) from None
        return run_accepted(self, request, run)


def _transition_api(name: str, service: Callable, description: str) -> type[_ApproverApi]:
    @extend_schema(tags=TAGS, operation_id=f"campaigns_{name}", request=None,
                   responses={200: s.CampaignOutput, 409: CONFLICT}, description=description)
    def post(self, request, workspace_slug, pk):
        return self.transition(request, pk, service)

    return type(f"Campaign{name.title()}Api", (_ApproverApi,), {"post": post, "__module__": __name__})


CampaignStopApi = _transition_api("stop", services.campaign_stop,
                                  "Stops the campaign: its running runs stop and the queued messages of their "
                                  "deliveries are cancelled (reason `stopped`); no new runs start.")
CampaignPauseApi = _transition_api("pause", services.campaign_pause,
                                   "No new runs start while paused (schedules are skipped); the deliveries of "
                                   "running runs hold their queued messages until the campaign is resumed.")
CampaignResumeApi = _transition_api("resume", services.campaign_resume, "A paused campaign is live again; its held deliveries "
                                    "send again.")
CampaignCloseApi = _transition_api("close", services.campaign_close,
                                   "A recurring campaign takes no new runs; the current one finishes.")
CampaignArchiveApi = _transition_api("archive", services.campaign_archive,
                                     "Out of the way, read-only; its running runs must be stopped first.")

