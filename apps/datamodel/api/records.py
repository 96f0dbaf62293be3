"""Records over the API: a keyset-paginated list with filters, one record by key, and the
JSON batch of upserts and deletes that partners (and CDC feeds) send."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin

from .. import services
from ..ingestion.services import records_batch
from ..models import IngestionStatus
from ..selectors import access_entity, record_get, records_page, value_for_json
from . import serializers as s

TAGS = ["records"]


def record_json(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value_for_json(value) for key, value in record.items()}


class RecordListApi(WorkspaceScopedMixin, APIView):
    @extend_schema(
        tags=TAGS, operation_id="data_records_list", parameters=[s.RecordListInput], responses=s.RecordPage,
        description="Records in the order of `sort` (empty values last), then the primary key. Follow `next` "
                    "(or pass `next_cursor` as `cursor` with the same filters and sort) for the next page: "
                    "every record is seen once, and a deep page costs what the first does.")
    def get(self, request, workspace_slug, entity_key):
        entity = access_entity(request.user, self.workspace, entity_key)
        params = s.RecordListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        page = records_page(entity=entity, filters=query.get("filter", []), sort=query.get("sort"),
                            descending=query["order"] == "desc", cursor=query.get("cursor"), limit=query["limit"])
        next_url = None
        if page.next_cursor:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor)
        return Response({"results": [record_json(row) for row in page.rows], "next_cursor": page.next_cursor,
                         "next": next_url})


class RecordBatchApi(WorkspaceScopedMixin, APIView):
    json_strings_checked_by_view = True  # bad values are errors of their record (skip mode keeps the rest)

    @extend_schema(
        tags=TAGS, operation_id="data_records_batch", request=s.BatchInput,
        responses={200: s.BatchReport, 400: s.BatchReport},
        description="Upserts and deletes by primary key, in one transaction. In reject mode any bad record "
                    "rejects the batch (400, nothing written, the errors per record); in skip mode bad records "
                    "are skipped up to max_errors. Records are upserted with the attributes they carry; "
                    "attributes they leave out keep their values.")
    def post(self, request, workspace_slug, entity_key):
        entity = access_entity(request.user, self.workspace, entity_key)
        data = s.BatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = records_batch(workspace=self.workspace, actor=request.user, entity=entity, **data.validated_data)
        code = status.HTTP_200_OK if job.status == IngestionStatus.DONE else status.HTTP_400_BAD_REQUEST
        return Response(s.BatchReport(job).data, status=code)


class RecordDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="data_records_retrieve", responses={200: s.RECORD_SCHEMA})
    def get(self, request, workspace_slug, entity_key, record_key):
        entity = access_entity(request.user, self.workspace, entity_key)
        return Response(record_json(record_get(entity=entity, key=record_key)))

    @extend_schema(tags=TAGS, operation_id="data_records_destroy", responses={204: None})
    def delete(self, request, workspace_slug, entity_key, record_key):
        entity = access_entity(request.user, self.workspace, entity_key)
        try:
            deleted = services.record_delete(workspace=self.workspace, actor=request.user, entity=entity,
                                             key=record_key)
        except ValidationError:  # a key that cannot be one of this entity's (text for an integer key)
            raise Http404("Not found.") from None
        if not deleted:
            raise Http404("Not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)
