"""Campaigns over the API: list, create, read, rename, delete (a draft that never ran); the
draft definition being edited; validation; test runs; duplicates."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.siteurl import request_origin
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole, at_least

from .. import selectors, services
from ..graph import check_graph
from ..models import Campaign
from . import serializers as s
from .common import CONFLICT, PROBLEMS, TAGS, lifecycle


def context(view: Any, request) -> dict[str, Any]:
    return {"request": request, "workspace": view.workspace}


def campaign_body(view: Any, request, campaign: Campaign, *, detail: bool = False) -> dict[str, Any]:
    """Re-read with the summary: services change status and versions with UPDATE statements."""
    fresh = selectors.with_summary(selectors.campaign_list(workspace=view.workspace)
                                   .select_related("workspace")).get(pk=campaign.pk)
    if not detail:
        return s.CampaignOutput(fresh, context=context(view, request)).data
    fresh.definition = services.latest_version(fresh).definition
    fresh.versions_list = list(selectors.version_list(campaign=fresh))
    return s.CampaignDetailOutput(fresh, context=context(view, request)).data


class CampaignListApi(WorkspaceScopedMixin, GenericAPIView):
    """The workspace's campaigns, by name."""

    queryset = Campaign.objects.all()
    serializer_class = s.CampaignOutput

    def scope_queryset(self, queryset):
        return selectors.with_summary(queryset.select_related("workspace", "created_by")).order_by("name", "id")

    @extend_schema(tags=TAGS, operation_id="campaigns_list", parameters=[s.CampaignListInput],
                   responses=s.CampaignOutput(many=True),
                   description="Each campaign with its status, latest and published version and last run.")
    def get(self, request, workspace_slug):
        params = s.CampaignListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        campaigns = self.get_queryset()
        if "status" in params.validated_data:
            campaigns = campaigns.filter(status=params.validated_data["status"])
        page = self.paginate_queryset(campaigns)
        return self.get_paginated_response(s.CampaignOutput(page, many=True, context=context(self, request)).data)

    @extend_schema(tags=TAGS, operation_id="campaigns_create", request=s.CampaignCreateInput,
                   responses={201: s.CampaignDetailOutput, 400: PROBLEMS},
                   description="A draft campaign (version 1). A given definition may be incomplete; one that "
                               "cannot be read is a 400 naming each activity's problem.")
    def post(self, request, workspace_slug):
        data = s.CampaignCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        campaign = services.campaign_create(workspace=self.workspace, actor=request.user, **data.validated_data)
        return Response(campaign_body(self, request, campaign, detail=True), status=status.HTTP_201_CREATED)


class CampaignDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_retrieve", responses=s.CampaignDetailOutput,
                   description="The campaign with its latest definition and its versions.")
    def get(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        return Response(campaign_body(self, request, campaign, detail=True))

    @extend_schema(tags=TAGS, operation_id="campaigns_update", request=s.CampaignUpdateInput,
                   responses=s.CampaignDetailOutput, description="Name, description, and `confirm_before_send` (approvers only).")
    def patch(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        data = s.CampaignUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        if "confirm_before_send" in data.validated_data and not at_least(self.workspace_role, WorkspaceRole.APPROVER):
            # The gate before sending is the approvers' to set or lift, like publishing.
            raise PermissionDenied("Changing confirm_before_send needs the approver role.")
        services.campaign_update(workspace=self.workspace, actor=request.user, campaign=campaign,
                                 **data.validated_data)
        return Response(campaign_body(self, request, campaign, detail=True))

    @extend_schema(tags=TAGS, operation_id="campaigns_destroy", responses={204: None, 409: CONFLICT},
                   description="Only a draft that never ran (a test run counts) and was never published; "
                               "archive the others.")
    def delete(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        with lifecycle():
            services.campaign_delete(workspace=self.workspace, actor=request.user, campaign=campaign)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignDraftApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_draft_retrieve", responses=s.CampaignDraftOutput,
                   description="The latest version: the draft being edited, or (`published`: true) the "
                               "published one a save would copy into a new draft.")
    def get(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        return Response(s.CampaignDraftOutput(services.latest_version(campaign)).data)

    @extend_schema(tags=TAGS, operation_id="campaigns_draft_update", request=s.CampaignDraftInput,
                   responses={200: s.CampaignDraftOutput, 400: PROBLEMS, 409: CONFLICT},
                   description="Saves the definition being edited. It may be incomplete (what publishing "
                               "needs is checked by `validate/`), but not unreadable. A published version never "
                               "changes: saving then makes a new draft version.")
    def put(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        data = s.CampaignDraftInput(data=request.data)
        data.is_valid(raise_exception=True)
        with lifecycle():
            version = services.draft_save(workspace=self.workspace, actor=request.user, campaign=campaign,
                                          definition=data.validated_data["definition"])
        return Response(s.CampaignDraftOutput(version).data)


class CampaignValidateApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_validate", request=None,
                   responses={200: s.CampaignValidOutput, 400: PROBLEMS},
                   description="Checks the latest version as publishing would: every problem, each naming its "
                               "activity. Changes nothing.")
    def post(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        definition = services.latest_version(campaign).definition
        plan = check_graph(workspace=self.workspace, definition=definition, complete=True)
        return Response({"valid": True, "activities": len(plan.nodes)})


class CampaignTestRunApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_test_run", request=s.CampaignTestRunInput,
                   responses={202: s.RunOutput, 400: PROBLEMS, 409: CONFLICT},
                   description="Runs the latest version in test mode: every activity runs, channel activities "
                               "included, and nothing is sent (`skip_waits`: Waits go on at once). Workers run "
                               "it: poll the run's `url`.")
    def post(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        data = s.CampaignTestRunInput(data=request.data)
        data.is_valid(raise_exception=True)
        with lifecycle():
            run = services.test_run_start(workspace=self.workspace, actor=request.user, campaign=campaign,
                                          site_url=request_origin(request),
                                          skip_waits=data.validated_data["skip_waits"])
        return run_accepted(self, request, run)


class CampaignDuplicateApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_duplicate", request=s.CampaignDuplicateInput,
                   responses={201: s.CampaignDetailOutput},
                   description="A new draft campaign with the latest definition (no runs, no history).")
    def post(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        data = s.CampaignDuplicateInput(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.campaign_duplicate(workspace=self.workspace, actor=request.user, campaign=campaign,
                                           name=data.validated_data["name"].strip())
        return Response(campaign_body(self, request, copy, detail=True), status=status.HTTP_201_CREATED)


def run_accepted(view: Any, request, run) -> Response:
    run = selectors.access_run(request.user, view.workspace, run.pk)
    body = s.RunOutput(run, context=context(view, request)).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})

