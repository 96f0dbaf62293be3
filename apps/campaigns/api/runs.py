"""Runs over the API: a campaign's runs; one run with each activity's status, rows in and
out, outlet counts and report, and the row count on every edge; one activity with its log
and the SQL it ran; stopping one run and confirming its first send (approvers); the
catalog of activity types a canvas offers and the JSON Schema of a definition."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import selectors
from . import serializers as s
from .campaigns import context
from .common import CONFLICT, TAGS, lifecycle


class CampaignRunListApi(WorkspaceScopedMixin, GenericAPIView):
    serializer_class = s.RunOutput

    @extend_schema(tags=TAGS, operation_id="campaigns_runs_list", responses=s.RunOutput(many=True),
                   description="The campaign's runs (test and live), newest first.")
    def get(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        page = self.paginate_queryset(selectors.run_list(campaign=campaign))
        return self.get_paginated_response(s.RunOutput(page, many=True, context=context(self, request)).data)


class RunDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_runs_retrieve", responses=s.RunDetailOutput,
                   description="The run with every activity (status, rows in and out, outlet counts, report) "
                               "and the row count on every edge of its version's graph.")
    def get(self, request, workspace_slug, pk):
        run = selectors.access_run(request.user, self.workspace, pk)
        body = s.RunDetailOutput(run, context={**context(self, request),
                                               "activities": selectors.run_activities(run=run)}).data
        return Response(body)


class ActivityRunDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_runs_activity_retrieve", responses=s.ActivityDetailOutput,
                   description="One activity of a run with its log and the SQL it ran.")
    def get(self, request, workspace_slug, pk, node_id):
        activity = selectors.access_activity_run(request.user, self.workspace, pk, node_id)
        return Response(s.ActivityDetailOutput(activity).data)


class ActivityTypeListApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_activity_types", responses=s.ActivityTypeOutput(many=True),
                   description="The activities a campaign can hold, with their inputs and whether they send.")
    def get(self, request, workspace_slug):
        return Response(s.ActivityTypeOutput(selectors.activity_catalog(), many=True).data)


class ActivityRetryApi(WorkspaceScopedMixin, APIView):
    """Marketers retry activities of test runs; a live run's needs an approver."""

    @extend_schema(tags=TAGS, operation_id="campaigns_runs_activity_retry", request=None,
                   responses={202: s.ActivityDetailOutput, 409: CONFLICT},
                   description="Run a failed activity again; its skipped successors wait again and the run goes on.")
    def post(self, request, workspace_slug, pk, node_id):
        from apps.tenants.access import require_role  # noqa: PLC0415
        from apps.tenants.roles import WorkspaceRole  # noqa: PLC0415

        from .. import services  # noqa: PLC0415
        from .common import lifecycle  # noqa: PLC0415

        activity = selectors.access_activity_run(request.user, self.workspace, pk, node_id)
        run = activity.run
        if run.mode == "live":
            from django.core.exceptions import PermissionDenied as DjangoDenied  # noqa: PLC0415
            from rest_framework.exceptions import PermissionDenied  # noqa: PLC0415

            try:
                require_role(self.workspace_role, WorkspaceRole.APPROVER)
            except DjangoDenied as exc:
                raise PermissionDenied(str(exc)) from None
        with lifecycle():
            retried = services.activity_retry(workspace=self.workspace, actor=request.user, run=run, node_id=node_id)
        return Response(s.ActivityDetailOutput(retried).data, status=202)


class RunStopApi(WorkspaceScopedMixin, APIView):
    write_role = WorkspaceRole.APPROVER

    @extend_schema(tags=TAGS, operation_id="campaigns_runs_stop", request=None,
                   responses={200: s.RunOutput, 409: CONFLICT},
                   description="Stops this run only (the campaign stays as it is): nothing new starts in it; "
                               "its waiting activities are skipped. A finished run is a 409.")
    def post(self, request, workspace_slug, pk):
        from django.core.exceptions import ValidationError  # noqa: PLC0415

        from .. import services  # noqa: PLC0415

        run = selectors.access_run(request.user, self.workspace, pk)
        with lifecycle():
            if run.status not in ("queued", "running"):
                raise ValidationError(f"The run is already {run.status}.")
            run = services.run_stop(workspace=self.workspace, actor=request.user, run=run)
        return Response(s.RunOutput(run, context=context(self, request)).data)


class RunConfirmApi(WorkspaceScopedMixin, APIView):
    write_role = WorkspaceRole.APPROVER

    @extend_schema(tags=TAGS, operation_id="campaigns_runs_confirm", request=None,
                   responses={200: s.RunOutput, 409: CONFLICT},
                   description="For a live run of a campaign with `confirm_before_send`: lets its channel "
                               "activities send. Records who and when (`confirmed_by`, `confirmed_at`); the "
                               "activities waiting as `awaiting_confirmation` are queued, later ones pass. "
                               "A test run, a finished run or a second confirmation is a 409.")
    def post(self, request, workspace_slug, pk):
        from .. import services  # noqa: PLC0415

        run = selectors.access_run(request.user, self.workspace, pk)
        with lifecycle():
            run = services.run_confirm(workspace=self.workspace, actor=request.user, run=run)
        return Response(s.RunOutput(run, context=context(self, request)).data)


class DefinitionSchemaApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_definition_schema", responses={200: OpenApiTypes.OBJECT},
                   description="The JSON Schema (draft 2020-12) every campaign definition must satisfy, with "
                               "the activity types this server knows. Settings are checked further against "
                               "the workspace's data model (see `validate/`).")
    def get(self, request, workspace_slug):
        from ..definition_schema import definition_schema  # noqa: PLC0415

        return Response(definition_schema())
