"""Workspace API: the workspace itself, members, API keys and the audit log."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.net import client_ip
from apps.tenants.api.scoping import WorkspaceScopedMixin

from .. import audit_words, lifecycle, services
from ..access import access_org_workspace, access_organization
from ..models import ApiKey, AuditEvent, Workspace
from ..roles import WorkspaceRole
from ..selectors import access_member, workspace_members, workspaces_for_user

ROLE_CHOICES = WorkspaceRole.choices


class WorkspaceOutput(serializers.ModelSerializer):
    organization = serializers.CharField(source="organization.name")
    role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ["slug", "name", "organization", "time_zone", "default_language", "sender_name",
                  "sender_email", "reply_to_email", "brand_color", "public_url", "archived_at", "created_at", "role"]

    def get_role(self, obj) -> str | None:
        return self.context.get("role")


class WorkspaceInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    time_zone = serializers.CharField(max_length=64, required=False)
    default_language = serializers.CharField(max_length=16, required=False)
    sender_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    sender_email = serializers.EmailField(required=False, allow_blank=True)
    reply_to_email = serializers.EmailField(required=False, allow_blank=True)
    brand_color = serializers.CharField(max_length=7, required=False, allow_blank=True)
    public_url = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WorkspaceCreateInput(WorkspaceInput):
    organization = serializers.SlugField(help_text="the agency's slug")
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=50)


class WorkspaceListApi(APIView):
    """Workspaces the caller reaches (an API key: its own one); agency owners and admins
    (logged-in people, not API keys, which reach one workspace) create client workspaces."""

    @extend_schema(responses=WorkspaceOutput(many=True), operation_id="workspaces_list")
    def get(self, request):
        data = WorkspaceOutput(workspaces_for_user(request.user), many=True).data
        return Response(data)

    @extend_schema(request=WorkspaceCreateInput, responses={201: WorkspaceOutput}, operation_id="workspaces_create")
    def post(self, request):
        data = WorkspaceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        organization, _ = access_organization(request.user, fields.pop("organization"), manage=True)
        if Workspace.objects.filter(slug=fields["slug"]).exists():
            raise serializers.ValidationError({"slug": ["This address is taken: choose another slug."]})
        try:
            workspace = services.workspace_create(organization=organization, actor=request.user, **fields)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(WorkspaceOutput(workspace, context={"role": WorkspaceRole.ADMIN}).data,
                        status=status.HTTP_201_CREATED)


class WorkspaceLifecycleApi(APIView):
    """Archive (read-only, schedules paused, nothing sent) or restore a client workspace:
    agency owners and admins."""

    @extend_schema(request=None, responses=WorkspaceOutput, operation_id="workspaces_lifecycle")
    def post(self, request, org_slug, workspace_slug, action):
        if action not in ("archive", "restore"):
            raise Http404("Not found.")
        organization, _ = access_organization(request.user, org_slug, manage=True)
        workspace = access_org_workspace(organization, workspace_slug)
        if action == "archive" and workspace.archived_at is None:
            lifecycle.workspace_archive(workspace=workspace, actor=request.user)
        elif action == "restore" and workspace.archived_at is not None:
            lifecycle.workspace_restore(workspace=workspace, actor=request.user)
        workspace.refresh_from_db()
        return Response(WorkspaceOutput(workspace, context={"role": WorkspaceRole.ADMIN}).data)


class WorkspaceDetailApi(WorkspaceScopedMixin, GenericAPIView):
    write_role = WorkspaceRole.ADMIN
    serializer_class = WorkspaceOutput

    def dangerously_get_queryset(self):
        # The workspace itself has no workspace column; it is exactly the one resolved.
        return Workspace.objects.filter(pk=self.workspace.pk)

    def get(self, request, workspace_slug):
        return Response(WorkspaceOutput(self.workspace, context={"role": self.workspace_role}).data)

    @extend_schema(request=WorkspaceInput, responses=WorkspaceOutput)
    def patch(self, request, workspace_slug):
        data = WorkspaceInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_update(workspace=self.workspace, actor=request.user,
                                              ip_address=client_ip(request), **data.validated_data)
        return Response(WorkspaceOutput(workspace, context={"role": self.workspace_role}).data)


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField(source="user.pk")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.display_name")
    role = serializers.CharField()
    via_organization = serializers.BooleanField()


class MemberAddInput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


USER_ID = OpenApiParameter("user_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The member's user id")


@extend_schema_view(partial_update=extend_schema(parameters=[USER_ID]),
                    destroy=extend_schema(parameters=[USER_ID], responses={204: None}))
class MemberViewSet(WorkspaceScopedMixin, viewsets.ViewSet):
    """People in the workspace. Everyone in it can list; workspace admins change."""

    write_role = WorkspaceRole.ADMIN
    lookup_field = "user_id"
    lookup_value_regex = r"[0-9]+"
    serializer_class = MemberOutput

    @extend_schema(responses=MemberOutput(many=True))
    def list(self, request, workspace_slug):
        return Response(MemberOutput(workspace_members(workspace=self.workspace), many=True).data)

    @extend_schema(request=MemberAddInput, responses={201: inline_serializer(
        "MemberAdded", {"result": serializers.CharField(), "email": serializers.EmailField()})})
    def create(self, request, workspace_slug):
        data = MemberAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        result, _ = services.member_add_by_email(workspace=self.workspace, actor=request.user,
                                                 ip_address=client_ip(request), **data.validated_data)
        return Response({"result": result, "email": data.validated_data["email"].lower()},
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberRoleInput, responses=MemberOutput)
    def partial_update(self, request, workspace_slug, user_id):
        user = access_member(request.user, self.workspace, user_id)
        data = MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.member_set_role(workspace=self.workspace, actor=request.user, user=user,
                                 role=data.validated_data["role"], ip_address=client_ip(request))
        member = next(m for m in workspace_members(workspace=self.workspace) if m.user.pk == user.pk)
        return Response(MemberOutput(member).data)

    def destroy(self, request, workspace_slug, user_id):
        user = access_member(request.user, self.workspace, user_id)
        services.member_remove(workspace=self.workspace, actor=request.user, user=user,
                               ip_address=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyOutput(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.email", default=None, allow_null=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "role", "created_by", "created_at", "expires_at",
                  "last_used_at", "revoked_at", "active"]

    def get_active(self, obj) -> bool:
        from django.utils import timezone  # noqa: PLC0415

        return obj.revoked_at is None and (obj.expires_at is None or obj.expires_at > timezone.now())


class ApiKeyCreated(ApiKeyOutput):
    key = serializers.CharField(help_text="The secret key. It is shown this once and never again.")

    class Meta(ApiKeyOutput.Meta):
        fields = [*ApiKeyOutput.Meta.fields, "key"]


class ApiKeyInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=ROLE_CHOICES, default=WorkspaceRole.MARKETER)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    viewsets.GenericViewSet):
    """API keys of the workspace (workspace admins only). DELETE revokes."""

    read_role = WorkspaceRole.ADMIN
    write_role = WorkspaceRole.ADMIN
    queryset = ApiKey.objects.select_related("created_by")
    serializer_class = ApiKeyOutput

    @extend_schema(request=ApiKeyInput, responses={201: ApiKeyCreated})
    def create(self, request, workspace_slug):
        data = ApiKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        key, raw = services.api_key_create(workspace=self.workspace, actor=request.user,
                                           ip_address=client_ip(request), **data.validated_data)
        key.key = raw
        return Response(ApiKeyCreated(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ApiKeyOutput})
    def destroy(self, request, workspace_slug, pk):
        key = get_object_or_404(self.get_queryset(), pk=pk)
        services.api_key_revoke(workspace=self.workspace, actor=request.user, api_key=key,
                                ip_address=client_ip(request))
        return Response(ApiKeyOutput(key).data)


class AuditEventOutput(serializers.ModelSerializer):
    summary = serializers.SerializerMethodField(help_text="The event in words, e.g. \"Loaded Customers: 1,204 "
                                                          "added, 0 updated, 0 deleted, 3 rejected\".")

    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor_label", "verb", "summary", "target_type", "target_id", "target_repr",
                  "data", "ip_address"]

    def get_summary(self, event: AuditEvent) -> str:
        return audit_words.summary(event.verb, event.target_repr, event.data)


class AuditEventViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The workspace's audit log, newest first."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventOutput
