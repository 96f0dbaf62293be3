"""The SMS configuration over the API (workspace admins), like the email one: the secret
(Twilio auth token, Vonage API secret) is write-only: answers carry `has_secret` and
`secret_hint`, never the secret. `test/` sends one SMS through the saved configuration."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.net import client_ip
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import selectors, smsconfig
from ..models import ChannelConfig
from ..proof_limits import ProofRateLimited
from .templates import CONFIG_TAGS, ProofThrottled


class SmsOptions(serializers.Serializer):
    account = serializers.CharField(help_text="Twilio: the account SID (AC...). Vonage: the API key.")
    sender_kind = serializers.ChoiceField(choices=list(smsconfig.SENDER_KINDS), required=False,
                                          help_text="number (E.164), messaging_service (Twilio MG...) or "
                                                    "alphanumeric (a sender id where the country allows it)")
    sender = serializers.CharField()
    base_url = serializers.CharField(required=False, allow_blank=True,
                                     help_text="Send to this URL instead of the provider's public API host "
                                               "(an on-premise gateway speaking the provider's API).")
    status_callback = serializers.CharField(required=False, allow_blank=True,
                                            help_text="Public URL the provider posts delivery receipts to.")
    timeout = serializers.FloatField(required=False, help_text="seconds per request, 1 to 60 (default 15)")
    price_per_segment = serializers.FloatField(required=False, allow_null=True,
                                               help_text="for cost estimates, in the workspace's currency")
    max_segments = serializers.IntegerField(required=False, help_text="longer messages are refused (1 to 10)")
    default_region = serializers.CharField(required=False, allow_blank=True,
                                           help_text="ISO 3166 alpha-2 country of national numbers, e.g. GB")


class SmsConfigOutput(serializers.Serializer):
    channel = serializers.CharField()
    configured = serializers.BooleanField()
    backend = serializers.CharField()
    options = serializers.DictField()
    has_secret = serializers.BooleanField()
    secret_hint = serializers.CharField()
    rate_per_second = serializers.FloatField(allow_null=True)
    window_hours = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    chunk_size = serializers.IntegerField()
    parallel_tasks = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)


class SmsConfigInput(serializers.Serializer):
    backend = serializers.ChoiceField(choices=list(smsconfig.BACKENDS))
    options = serializers.DictField(help_text="account, sender_kind, sender, base_url, status_callback, timeout, "
                                              "price_per_segment, max_segments, default_region")
    secret = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False,
                                   help_text="Twilio auth token or Vonage API secret. Write-only; left out or "
                                             "empty keeps the stored one.")
    clear_secret = serializers.BooleanField(required=False, default=False)
    rate_per_second = serializers.FloatField(required=False, allow_null=True, min_value=0.01,
                                             help_text="throughput of the sender: 1 for a long code, more for "
                                                       "toll-free and short codes")
    window_hours = serializers.IntegerField(required=False, min_value=1, max_value=24 * 14)
    max_attempts = serializers.IntegerField(required=False, min_value=1, max_value=20)
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=5000)
    parallel_tasks = serializers.IntegerField(required=False, min_value=1, max_value=32)


def sms_config_body(workspace) -> dict:
    config = selectors.channel_config(workspace=workspace, channel="sms") or ChannelConfig(
        workspace=workspace, channel="sms", backend="twilio")
    try:
        hint = config.secret_hint
    except ValueError:  # stored under another key: say there is one, unreadable
        hint = "(cannot be decrypted: enter it again)"
    return SmsConfigOutput({
        "channel": "sms", "configured": config.pk is not None, "backend": config.backend,
        "options": config.options or {}, "has_secret": bool(config.secret_encrypted), "secret_hint": hint,
        **{name: getattr(config, name) for name in smsconfig.SMS_FIELDS},
        "updated_at": config.updated_at if config.pk else None}).data


class SmsConfigApi(WorkspaceScopedMixin, APIView):
    read_role = WorkspaceRole.ADMIN
    write_role = WorkspaceRole.ADMIN

    @extend_schema(tags=CONFIG_TAGS, operation_id="channels_sms_retrieve", responses=SmsConfigOutput,
                   description="How the workspace sends SMS (Twilio or Vonage). The secret is never returned.")
    def get(self, request, workspace_slug):
        return Response(sms_config_body(self.workspace))

    @extend_schema(tags=CONFIG_TAGS, operation_id="channels_sms_update", request=SmsConfigInput,
                   responses=SmsConfigOutput)
    def put(self, request, workspace_slug):
        data = SmsConfigInput(data=request.data)
        data.is_valid(raise_exception=True)
        smsconfig.sms_config_save(workspace=self.workspace, actor=request.user, ip_address=client_ip(request),
                                  **data.validated_data)
        return Response(sms_config_body(self.workspace))


class SmsConfigTestApi(WorkspaceScopedMixin, APIView):
    read_role = WorkspaceRole.ADMIN
    write_role = WorkspaceRole.ADMIN

    @extend_schema(tags=CONFIG_TAGS, operation_id="channels_sms_test",
                   request=inline_serializer("SmsTestInput", {"phone": serializers.CharField()}),
                   responses={200: inline_serializer("SmsTestSent", {"sent": serializers.BooleanField(),
                                                                    "via": serializers.CharField()}),
                              502: inline_serializer("SmsTestFailed", {"sent": serializers.BooleanField(),
                                                                      "error": serializers.CharField()})},
                   description="Sends one SMS through the saved configuration. A wrong number is a 400; when "
                               "the provider refuses or cannot be reached, a 502 carries its answer in `error`. "
                               "Counts against the limit of proof and test messages (429 beyond).")
    def post(self, request, workspace_slug):
        phone = request.data.get("phone") if hasattr(request.data, "get") else None
        if not isinstance(phone, str) or not phone.strip():
            raise serializers.ValidationError({"phone": ["give a phone number, e.g. +447911123456"]})
        try:
            via = smsconfig.sms_test_send(workspace=self.workspace, actor=request.user, phone=phone)
        except ProofRateLimited as exc:
            raise ProofThrottled(exc) from None
        except ValidationError as exc:
            message = " ".join(exc.message_dict.get("phone", exc.messages))
            if not message.startswith("the provider answered") and "decrypt" not in message:
                raise serializers.ValidationError({"phone": [message]}) from None
            return Response({"sent": False, "error": message}, status=status.HTTP_502_BAD_GATEWAY)
        return Response({"sent": True, "via": via})
