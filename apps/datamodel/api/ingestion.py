"""Ingestion jobs over the API: upload a CSV file (loaded by a worker), follow its status
and progress, read its report and download the rejected rows."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin

from ..ingestion.services import ingestion_job_create
from ..models import IngestionJob
from ..selectors import access_entity, access_ingestion_job
from . import serializers as s
from .model import entity_in_body

TAGS = ["ingestion"]


class IngestionJobListApi(WorkspaceScopedMixin, GenericAPIView):
    queryset = IngestionJob.objects.all()
    serializer_class = s.IngestionJobOutput
    parser_classes = [MultiPartParser, FormParser]

    def scope_queryset(self, queryset):
        return queryset.select_related("entity", "created_by", "workspace")

    @extend_schema(tags=TAGS, operation_id="data_ingestion_jobs_list", parameters=[s.IngestionJobListInput],
                   responses=s.IngestionJobOutput(many=True), description="Loads of the workspace, newest first.")
    def get(self, request, workspace_slug):
        params = s.IngestionJobListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        jobs = self.get_queryset()
        if "entity" in params.validated_data:
            jobs = jobs.filter(entity=access_entity(request.user, self.workspace, params.validated_data["entity"]))
        page = self.paginate_queryset(jobs)
        return self.get_paginated_response(s.IngestionJobOutput(page, many=True, context={"request": request}).data)

    @extend_schema(tags=TAGS, operation_id="data_ingestion_jobs_create", request={"multipart/form-data":
                   s.IngestionUploadInput}, responses={202: s.IngestionJobOutput},
                   description="Stores the file and queues its load; poll the job's `url` for progress and the "
                               "report. Columns map to attributes by key or label unless `mapping` says "
                               "otherwise; a `_change` column (upsert / delete) makes it a change feed.")
    def post(self, request, workspace_slug):
        data = s.IngestionUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        entity = entity_in_body(self.workspace, request, "entity", values.pop("entity"))
        job = ingestion_job_create(workspace=self.workspace, actor=request.user, entity=entity,
                                   upload=values.pop("file"), **values)
        body = s.IngestionJobOutput(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class IngestionJobDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="data_ingestion_jobs_retrieve", responses=s.IngestionJobOutput,
                   description="Status, progress while it runs, and the report when it is finished.")
    def get(self, request, workspace_slug, pk):
        job = access_ingestion_job(request.user, self.workspace, pk)
        return Response(s.IngestionJobOutput(job, context={"request": request}).data)


class IngestionJobRejectedRowsApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="data_ingestion_jobs_rejected_rows",
                   responses={(200, "text/csv"): OpenApiResponse(
                       OpenApiTypes.BINARY, description="line, errors, then the row as it was in the file.")},
                   description="The rejected rows of a finished load as CSV; 404 when there are none.")
    def get(self, request, workspace_slug, pk):
        job = access_ingestion_job(request.user, self.workspace, pk)
        if not job.rejected_file:
            raise Http404("Not found.")
        return FileResponse(job.rejected_file.open("rb"), as_attachment=True, content_type="text/csv",
                            filename=f"{job.entity.key}-load-{job.pk}-rejected.csv")
