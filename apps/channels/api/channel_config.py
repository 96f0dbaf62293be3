"""What the email and SMS configuration APIs share: the answer (options in full, the
secret only as `has_secret` and `secret_hint`), the throughput fields of the input, and
the test endpoint (400 for a wrong address, 502 with the provider's answer, 429 past the
budget of proof and test messages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.net import client_ip
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import selectors
from ..models import ChannelConfig
from ..proof_limits import ProofRateLimited

CONFIG_TAGS = ["channels"]
THROUGHPUT = ("rate_per_second", "window_hours", "max_attempts", "chunk_size", "parallel_tasks")


class ProofThrottled(Throttled):
    """A 429 whose message already says when to try again (Retry-After carries the seconds)."""

    def __init__(self, limited: ProofRateLimited):
        APIException.__init__(self, limited.message)
        self.wait = limited.retry_after


class ConfigOutput(serializers.Serializer):
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


class ConfigInput(serializers.Serializer):
    secret = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False)
    clear_secret = serializers.BooleanField(required=False, default=False)
    rate_per_second = serializers.FloatField(required=False, allow_null=True, min_value=0.01)
    window_hours = serializers.IntegerField(required=False, min_value=1, max_value=24 * 14)
    max_attempts = serializers.IntegerField(required=False, min_value=1, max_value=20)
    chunk_size = serializers.IntegerField(required=False, min_value=1, max_value=5000)
    parallel_tasks = serializers.IntegerField(required=False, min_value=1, max_value=32)


def config_body(workspace, *, channel: str, backend: str, output: type[ConfigOutput], fields: tuple[str, ...],
                extra: dict | None = None) -> dict:
    """The saved configuration of `channel` (or the unsaved default) as `output` renders it."""
    config = selectors.channel_config(workspace=workspace, channel=channel) or ChannelConfig(
        workspace=workspace, channel=channel, backend=backend)
    try:
        hint = config.secret_hint
    except ValueError:  # stored under another key: say there is one, unreadable
        hint = "(cannot be decrypted: enter it again)"
    return output({
        "channel": channel, "configured": config.pk is not None, "backend": config.backend,
        "options": config.options or {}, "has_secret": bool(config.secret_encrypted), "secret_hint": hint,
        **{name: getattr(config, name) for name in fields},
        "updated_at": config.updated_at if config.pk else None, **(extra or {})}).data


class ConfigApi(WorkspaceScopedMixin, APIView):
    """GET and PUT of one channel's configuration; a subclass names its parts."""

    read_role = WorkspaceRole.ADMIN
    write_role = WorkspaceRole.ADMIN
    channel: ClassVar[str]
    default_backend: ClassVar[str]
    output: ClassVar[type[ConfigOutput]]
    input: ClassVar[type[ConfigInput]]
    fields: ClassVar[tuple[str, ...]]
    save: ClassVar[Callable[..., Any]]

    @classmethod
    def body_of(cls, workspace) -> dict:
        return config_body(workspace, channel=cls.channel, backend=cls.default_backend, output=cls.output,
                           fields=cls.fields)

    def get(self, request, workspace_slug):
        return Response(self.body_of(self.workspace))

    def put(self, request, workspace_slug):
        data = self.input(data=request.data)
        data.is_valid(raise_exception=True)
        type(self).save(workspace=self.workspace, actor=request.user, ip_address=client_ip(request),
                        **data.validated_data)
        return Response(self.body_of(self.workspace))


class ConfigTestApi(WorkspaceScopedMixin, APIView):
    """POST {<field>: ...}: one test message through the saved configuration."""

    read_role = WorkspaceRole.ADMIN
    write_role = WorkspaceRole.ADMIN
    field: ClassVar[str]
    missing: ClassVar[str]  # the 400 when the field is not given

    def send(self, value: str) -> str:
        raise NotImplementedError

    def is_input_error(self, message: str) -> bool:
        """True: the value was wrong (400); False: the provider answered (502)."""
        raise NotImplementedError

    def post(self, request, workspace_slug):
        value = request.data.get(self.field) if hasattr(request.data, "get") else None
        if not isinstance(value, str) or not value.strip():
            raise serializers.ValidationError({self.field: [self.missing]})
        try:
            via = self.send(value)
        except ProofRateLimited as exc:
            raise ProofThrottled(exc) from None
        except ValidationError as exc:
            message = " ".join(exc.message_dict.get(self.field, exc.messages))
            if self.is_input_error(message):
                raise serializers.ValidationError({self.field: [message]}) from None
            return Response({"sent": False, "error": message}, status=status.HTTP_502_BAD_GATEWAY)
        return Response({"sent": True, "via": via})
