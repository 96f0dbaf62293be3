"""The SMS configuration over the API (workspace admins), like the email one: the secret
(Twilio auth token, Vonage API secret) is write-only: answers carry `has_secret` and
`secret_hint`, never the secret. `test/` sends one SMS through the saved configuration."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers

from .. import selectors, smsconfig
from . import channel_config
from .channel_config import CONFIG_TAGS


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
    signature_method = serializers.ChoiceField(
        choices=["md5hash", "md5", "sha1", "sha256", "sha512"], required=False,
        help_text="Vonage: how its signed webhooks are signed, as in the account's settings (default md5hash)")
    reply_stop = serializers.CharField(required=False, allow_blank=True,
                                       help_text="the confirmation of STOP ({workspace}: the workspace's name)")
    reply_start = serializers.CharField(required=False, allow_blank=True, help_text="the confirmation of START")
    reply_help = serializers.CharField(required=False, allow_blank=True, help_text="the answer to HELP")


class SmsConfigInput(channel_config.ConfigInput):
    backend = serializers.ChoiceField(choices=list(smsconfig.BACKENDS))
    options = serializers.DictField(help_text="account, sender_kind, sender, base_url, status_callback, timeout, "
                                              "price_per_segment, max_segments, default_region, signature_method, "
                                              "reply_stop, reply_start, reply_help")
    secret = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False,
                                   help_text="Twilio auth token or Vonage API secret. Write-only; left out or "
                                             "empty keeps the stored one.")
    signing_secret = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False,
                                           max_length=200,
                                           help_text="Vonage's signature secret (signed webhooks: delivery receipts "
                                                     "and inbound messages). Write-only; left out or empty keeps "
                                                     "the stored one. Twilio signs with the auth token.")
    clear_signing_secret = serializers.BooleanField(required=False, default=False)
    rate_per_second = serializers.FloatField(required=False, allow_null=True, min_value=0.01,
                                             help_text="throughput of the sender: 1 for a long code, more for "
                                                       "toll-free and short codes")


class SmsConfigOutput(channel_config.ConfigOutput):
    has_signing_secret = serializers.BooleanField()
    status_webhook = serializers.CharField(help_text="the delivery receipt URL to give the provider "
                                                     "(empty until a provider is saved)")


@extend_schema_view(
    get=extend_schema(tags=CONFIG_TAGS, operation_id="channels_sms_retrieve", responses=SmsConfigOutput,
                      description="How the workspace sends SMS (Twilio or Vonage). The secret is never returned."),
    put=extend_schema(tags=CONFIG_TAGS, operation_id="channels_sms_update", request=SmsConfigInput,
                      responses=SmsConfigOutput))
class SmsConfigApi(channel_config.ConfigApi):
    channel = "sms"
    default_backend = "twilio"
    output = SmsConfigOutput
    input = SmsConfigInput
    fields = smsconfig.SMS_FIELDS
    save = smsconfig.sms_config_save

    @classmethod
    def body_of(cls, workspace) -> dict:
        config = selectors.channel_config(workspace=workspace, channel="sms")
        extra = {"has_signing_secret": bool(config and config.signing_secret_encrypted),
                 "status_webhook": smsconfig.status_webhook(workspace, config)}
        body = channel_config.config_body(workspace, channel="sms", backend=cls.default_backend, output=SmsConfigOutput,
                                          fields=cls.fields, extra=extra)
        return body


class SmsConfigTestApi(channel_config.ConfigTestApi):
    field = "phone"
    missing = "give a phone number, e.g. +447911123456"

    def send(self, value: str) -> str:
        return smsconfig.sms_test_send(workspace=self.workspace, actor=self.request.user, phone=value)

    def is_input_error(self, message: str) -> bool:
        return not message.startswith("the provider answered") and "decrypt" not in message

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
        return super().post(request, workspace_slug)
