"""The push channel's configuration over the API (workspace admins): the options in full,
the secrets (VAPID private key, FCM service account, APNs .p8 key) write-only, and a new
VAPID key pair generated on request."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.net import client_ip
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import push_config, webpush
from ..devices import PROFILE_KEY_MAX

TAGS = ["push"]


class PushOptionsShape(serializers.Serializer):
    vapid_subject = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                         help_text="mailto: or https URL the push services may contact.")
    fcm_base_url = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                         help_text=f"Default {push_config.FCM_BASE_URL}.")
    apns_base_url = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                          help_text=f"Default {push_config.APNS_BASE_URL}.")
    apns_key_id = serializers.CharField(max_length=10, required=False, allow_blank=True)
    apns_team_id = serializers.CharField(max_length=10, required=False, allow_blank=True)
    apns_topic = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                       help_text="Default bundle id when a device has no app_id.")
    web_origins = serializers.ListField(child=serializers.CharField(max_length=300), required=False,
                                        max_length=push_config.WEB_ORIGINS_MAX,
                                        help_text="Website origins (https://www.example.com) whose pages may "
                                                  "register browsers at /push/<slug>/subscribe/.")


class PushConfigInput(serializers.Serializer):
    options = PushOptionsShape(required=False)
    fcm_service_account = serializers.JSONField(required=False, write_only=True,
                                                help_text="The service account's JSON key file (object or text).")
    apns_key = serializers.CharField(max_length=2000, required=False, write_only=True,
                                     help_text="The .p8 auth key's text.")
    generate_vapid = serializers.BooleanField(required=False, default=False,
                                              help_text="Make a new VAPID key pair (browsers subscribe again).")
    clear = serializers.ListField(child=serializers.ChoiceField(choices=["vapid", "fcm_service_account",
                                                                        "apns_key"]), required=False)


class PushConfigOutput(serializers.Serializer):
    options = PushOptionsShape()
    vapid_public_key = serializers.CharField(help_text="What the website's script gives the browser to subscribe.")
    web_push = serializers.BooleanField(help_text="A VAPID key pair is set.")
    fcm = serializers.BooleanField(help_text="A service account is set.")
    fcm_project_id = serializers.CharField()
    fcm_client_email = serializers.CharField()
    apns = serializers.BooleanField(help_text="An APNs key, key id and team id are set.")


class PushConfigApi(WorkspaceScopedMixin, APIView):
    read_role = WorkspaceRole.ADMIN
    write_role = WorkspaceRole.ADMIN

    @extend_schema(tags=TAGS, operation_id="push_config_retrieve", responses=PushConfigOutput)
    def get(self, request, workspace_slug):
        return Response(push_config.push_config_view(push_config.config_of(self.workspace)))

    @extend_schema(tags=TAGS, operation_id="push_config_update", request=PushConfigInput, responses=PushConfigOutput,
                   description="Saves the push options; a secret left out keeps the stored one.")
    def put(self, request, workspace_slug):
        data = PushConfigInput(data=request.data)
        data.is_valid(raise_exception=True)
        config = push_config.push_config_save(workspace=self.workspace, actor=request.user,
                                              ip_address=client_ip(request), **data.validated_data)
        return Response(push_config.push_config_view(config))


class ProfileTokenInput(serializers.Serializer):
    profile_key = serializers.CharField(max_length=PROFILE_KEY_MAX, help_text="The profile's key.")


class ProfileTokenOutput(serializers.Serializer):
    profile_key = serializers.CharField()
    profile_token = serializers.CharField(help_text="Put it in the page of this person only: it lets that page "
                                                    "register browsers for the profile.")


class PushProfileTokenApi(WorkspaceScopedMixin, APIView):
    """The website's server asks for the token of its logged-in visitor's profile; the page
    gives it to /push/<slug>/subscribe/ with the browser's subscription."""

    read_role = WorkspaceRole.MARKETER
    write_role = WorkspaceRole.MARKETER

    @extend_schema(tags=TAGS, operation_id="push_profile_token_create", request=ProfileTokenInput,
                   responses=ProfileTokenOutput,
                   description="The profile token a page needs to register browsers for one profile: an HMAC of "
                               "the workspace and the key under the platform's secret (stable; the same key gives "
                               "the same token).")
    def post(self, request, workspace_slug):
        data = ProfileTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = data.validated_data["profile_key"].strip()
        return Response({"profile_key": key, "profile_token": webpush.profile_token(self.workspace, key)})
