"""Data subject requests over the API (workspace admins only): a profile's export as a
JSON download, and its erasure, confirmed by repeating the key. Both are audited."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.net import client_ip
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import dsr

TAGS = ["privacy"]
ADMIN = WorkspaceRole.ADMIN


class EraseInput(serializers.Serializer):
    confirm = serializers.CharField(help_text="The profile key again: erasure cannot be undone.")


class ErasureOutput(serializers.Serializer):
    subject = serializers.CharField(help_text="The pseudonym the profile's kept history now carries.")
    deleted_rows = serializers.DictField(child=serializers.IntegerField(), help_text="Rows deleted per entity.")
    messages_anonymized = serializers.IntegerField()
    message_events_cleared = serializers.IntegerField()
    consent_events_unlinked = serializers.IntegerField()
    suppressions_added = serializers.IntegerField()
    push_devices_deleted = serializers.IntegerField(help_text="Its push devices (tokens, browser subscriptions).")


class ProfileExportApi(WorkspaceScopedMixin, APIView):
    read_role = ADMIN
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="profiles_export",
                   responses={(200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description=(
                       "A JSON attachment: `profile` (its row), `related` (rows of entities linking to it, "
                       "each with the path `via`), `consent` (`state`, `events`), `messages`, "
                       "`message_events`, `suppressions`.")),
                       404: OpenApiResponse(description="Nothing is kept about this key.")},
                   description="Everything kept about one profile (a data subject access request). Workspace "
                               "admins only; the audit log records it (counts, never the data).")
    def get(self, request, workspace_slug, key):
        subject = dsr.access_subject(self.workspace, key)
        return dsr.export_response(self.workspace, request.user, subject, client_ip(request))


class ProfileEraseApi(WorkspaceScopedMixin, APIView):
    read_role = ADMIN
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="profiles_erase", request=EraseInput,
                   responses={200: ErasureOutput, 400: OpenApiResponse(description="`confirm` is not the key."),
                              404: OpenApiResponse(description="Nothing is kept about this key.")},
                   description="Erases one profile in one transaction: its rows and those linking to it are "
                               "deleted, its messages anonymized, its consent history unlinked (kept under a "
                               "pseudonym), and its email and phone kept only as hashed suppressions so it is "
                               "never messaged again, even if imported again. Workspace admins only; audited.")
    def post(self, request, workspace_slug, key):
        subject = dsr.access_subject(self.workspace, key)
        data = EraseInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = dsr.profile_erase(workspace=self.workspace, actor=request.user, subject=subject,
                                   confirm=data.validated_data["confirm"], ip_address=client_ip(request))
        return Response(ErasureOutput(result.as_dict()).data)
