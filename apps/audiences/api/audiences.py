"""Saved audiences over the API: list, create, read, change, delete; count (stores the
size), sample, CSV export, snapshot (built by a worker), duplicate, and lists uploaded as a
CSV of keys."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.datamodel.api.model import entity_in_body
from apps.datamodel.selectors import access_entity
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import selectors, services
from ..models import Audience, AudienceOrigin
from . import serializers as s
from .common import TAGS, Conflict, CsvRenderer, evaluating, ready

PROBLEMS = OpenApiResponse(s.Problems, description="The definition's problems, each with its path.")


def audience_body(request, audience: Audience) -> dict:
    # Re-read: the services update size and status with UPDATE statements.
    fresh = selectors.audience_list(workspace=audience.workspace).select_related("workspace").get(pk=audience.pk)
    return s.AudienceOutput(fresh, context={"request": request}).data


class AudienceListApi(WorkspaceScopedMixin, GenericAPIView):
    """The workspace's saved audiences, by name."""

    queryset = Audience.objects.all()
    serializer_class = s.AudienceOutput

    def scope_queryset(self, queryset):
        return queryset.select_related("entity", "workspace", "created_by", "updated_by").order_by("name", "id")

    @extend_schema(tags=TAGS, operation_id="audiences_list", parameters=[s.AudienceListInput],
                   responses=s.AudienceOutput(many=True))
    def get(self, request, workspace_slug):
        params = s.AudienceListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        audiences = self.get_queryset()
        if "entity" in query:
            audiences = audiences.filter(entity=access_entity(request.user, self.workspace, query["entity"]))
        if "origin" in query:
            audiences = audiences.filter(origin=query["origin"])
        if "status" in query:
            audiences = audiences.filter(status=query["status"])
        page = self.paginate_queryset(audiences)
        return self.get_paginated_response(s.AudienceOutput(page, many=True, context={"request": request}).data)

    @extend_schema(tags=TAGS, operation_id="audiences_create", request=s.AudienceCreateInput,
                   responses={201: s.AudienceOutput, 400: PROBLEMS},
                   description="A rule audience, re-evaluated whenever it is used. A definition with problems is "
                               "a 400 listing each with its path: `{\"problems\": [{\"path\": \"rule.all[1]\", "
                               "\"message\": \"...\"}]}`.")
    def post(self, request, workspace_slug):
        data = s.AudienceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        audience = services.audience_create(workspace=self.workspace, actor=request.user, **data.validated_data)
        return Response(audience_body(request, audience), status=status.HTTP_201_CREATED)


class AudienceDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="audiences_retrieve", responses=s.AudienceOutput,
                   description="The audience with its size, last evaluation, origin and (a snapshot's) status.")
    def get(self, request, workspace_slug, pk):
        return Response(audience_body(request, selectors.access_audience(request.user, self.workspace, pk)))

    @extend_schema(tags=TAGS, operation_id="audiences_update", request=s.AudienceUpdateInput,
                   responses={200: s.AudienceOutput, 400: PROBLEMS},
                   description="Name, description, and the definition of a rule audience. An audience used "
                               "elsewhere keeps its entity.")
    def patch(self, request, workspace_slug, pk):
        audience = selectors.access_audience(request.user, self.workspace, pk)
        data = s.AudienceUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        audience = services.audience_update(workspace=self.workspace, actor=request.user, audience=audience,
                                            **data.validated_data)
        return Response(audience_body(request, audience))

    @extend_schema(tags=TAGS, operation_id="audiences_destroy",
                   responses={204: None, 409: OpenApiResponse(description="Used elsewhere; `detail` says by what.")},
                   description="Refused (409) while another audience or a campaign uses it.")
    def delete(self, request, workspace_slug, pk):
        audience = selectors.access_audience(request.user, self.workspace, pk)
        try:
            services.audience_delete(workspace=self.workspace, actor=request.user, audience=audience)
        except services.AudienceInUse as exc:
            raise Conflict(exc.messages[0]) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class AudienceCountApi(WorkspaceScopedMixin, APIView):
    # Evaluating is a read: a viewer may count; the size it stores is a by-product.
    write_role = WorkspaceRole.VIEWER

    @extend_schema(tags=TAGS, operation_id="audiences_count", request=None,
                   responses={200: s.CountOutput, 409: OpenApiResponse(description="A snapshot still building.")},
                   description="Evaluates the audience now. A rule audience's size and last evaluation are "
                               "stored.")
    def post(self, request, workspace_slug, pk):
        audience = ready(selectors.access_audience(request.user, self.workspace, pk))
        with evaluating():
            result = selectors.count(definition=selectors.definition_of(audience))
        if audience.origin == AudienceOrigin.RULE:
            services.audience_record_count(audience=audience, result=result)
        return Response({"count": result.count, "ms": result.ms, "sql": selectors.inline_params(
            result.sql, result.params), "entity": result.entity})


class AudienceSampleApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="audiences_sample", parameters=[s.SampleQueryInput],
                   responses=s.SampleOutput, description="The first matching records (in key order).")
    def get(self, request, workspace_slug, pk):
        audience = ready(selectors.access_audience(request.user, self.workspace, pk))
        params = s.SampleQueryInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        with evaluating():
            records = selectors.sample(definition=selectors.definition_of(audience),
                                       limit=params.validated_data["limit"])
        return Response({"entity": audience.entity.key, "records": s.records_json(records)})


class AudienceExportApi(WorkspaceScopedMixin, APIView):
    # Data leaving the platform: marketers and up, and it is in the audit log.
    read_role = WorkspaceRole.MARKETER
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(tags=TAGS, operation_id="audiences_export", parameters=[s.ExportInput],
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description=(
                       "A header line of attribute keys, then one line per record in key order. Text starting "
                       "with = + - @, a tab or a carriage return is prefixed with a quote (')."))},
                   description="The audience's records as CSV, streamed.")
    def get(self, request, workspace_slug, pk):
        audience = ready(selectors.access_audience(request.user, self.workspace, pk))
        params = s.ExportInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        rows = services.audience_export(workspace=self.workspace, actor=request.user, audience=audience,
                                        attributes=params.validated_data.get("attributes") or None)
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audience-{audience.pk}.csv"'
        return response


class AudienceSnapshotApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="audiences_snapshot", request=s.SnapshotInput,
                   responses={202: s.AudienceOutput, 400: PROBLEMS},
                   description="Freezes the keys the audience matches now into a new audience (origin "
                               "`snapshot`). A worker builds it: poll its `url` until `status` is `ready` (or "
                               "`failed`, with `status_message`).")
    def post(self, request, workspace_slug, pk):
        source = ready(selectors.access_audience(request.user, self.workspace, pk))
        data = s.SnapshotInput(data=request.data)
        data.is_valid(raise_exception=True)
        snapshot = services.snapshot_create(workspace=self.workspace, actor=request.user,
                                            name=data.validated_data["name"], source=source)
        body = audience_body(request, snapshot)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class AudienceDuplicateApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="audiences_duplicate", request=s.DuplicateInput,
                   responses={201: s.AudienceOutput}, description="A copy (a list's keys included).")
    def post(self, request, workspace_slug, pk):
        audience = selectors.access_audience(request.user, self.workspace, pk)
        data = s.DuplicateInput(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.audience_duplicate(workspace=self.workspace, actor=request.user, audience=audience,
                                           name=data.validated_data["name"])
        return Response(audience_body(request, copy), status=status.HTTP_201_CREATED)


class AudienceUploadApi(WorkspaceScopedMixin, APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(tags=TAGS, operation_id="audiences_upload", request={"multipart/form-data": s.UploadInput},
                   responses={201: s.AudienceOutput},
                   description="A list audience from a CSV of keys. Keys that are no record of the entity are "
                               "not kept: `upload_report` counts them and shows the first ones with their line.")
    def post(self, request, workspace_slug):
        data = s.UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        entity = entity_in_body(self.workspace, request, "entity", values.pop("entity"))
        upload = values.pop("file")
        audience = services.upload_create(workspace=self.workspace, actor=request.user, entity=entity,
                                          stream=upload.file, **values)
        return Response(audience_body(request, audience), status=status.HTTP_201_CREATED)
