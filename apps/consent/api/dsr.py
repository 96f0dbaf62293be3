"""Data subject requests over the API (workspace admins only): a profile's export as a
JSON download, and its erasure, confirmed by repeating the key. Both are audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.net import client_ip
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import dsr, dsr_lookup

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


class LookupOutput(serializers.Serializer):
    key = serializers.CharField(help_text="The profile's key: export and erase it under profiles/<key>/.")


class ProfileLookupApi(WorkspaceScopedMixin, APIView):
    read_role = ADMIN
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="profiles_lookup",
                   parameters=[OpenApiParameter("email", str, description="An email address (case-insensitive)."),
                               OpenApiParameter("phone", str, description="A phone number, any format: compared "
                                                "in E.164 (a national one is read in the default region).")],
                   responses={200: LookupOutput,
                              400: OpenApiResponse(description="Neither or both of email and phone, or not one."),
                              404: OpenApiResponse(description="No profile has this address."),
                              409: OpenApiResponse(description="Several profiles have it: `keys` lists them.")},
                   description="The profile key of a data subject known by email or phone (its profile row, or "
                               "the messages sent to it). Workspace admins only.")
    def get(self, request, workspace_slug):
        email, phone = (request.query_params.get("email") or "").strip(), (request.query_params.get(
            "phone") or "").strip()
        if bool(email) == bool(phone):
            raise ValidationError({"detail": "Give one of email or phone."})
        try:
            key = dsr_lookup.one_key(self.workspace, email=email, phone=phone)
        except dsr_lookup.Ambiguous as exc:
            return Response({"detail": str(exc), "keys": exc.keys, "more": exc.more}, status=409)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(LookupOutput({"key": key}).data)


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
