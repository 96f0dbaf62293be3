"""Suppression, frequency caps, quiet hours, the workspace policy and the inbound SMS URL
over the API (the roles: apps/consent/api.py)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.integers import INT_MAX
from apps.tenants.api.scoping import WorkspaceScopedMixin

from .. import configuration, inbound, selectors, services
from ..models import (
    CHANNELS,
    FrequencyCap,
    Period,
    RuleSet,
    Suppression,
    SuppressionKind,
    SuppressionReason,
)
from .consents import ADMIN, APPROVER, MARKETER, TAGS

# --- suppression ---

class SuppressionOutput(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Suppression
        fields = ["id", "kind", "value", "hashed", "reason", "note", "expires_at", "created_by", "created_at"]

    def get_created_by(self, obj) -> str:
        return obj.created_by.email if obj.created_by_id else ""


class SuppressionInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SuppressionKind.choices)
    value = serializers.CharField(max_length=320)
    reason = serializers.ChoiceField(choices=[c for c in SuppressionReason.choices
                                              if c[0] != SuppressionReason.ERASED], default=SuppressionReason.MANUAL)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class SuppressionListApi(WorkspaceScopedMixin, GenericAPIView):
    read_role = MARKETER
    write_role = APPROVER
    queryset = Suppression.objects.all()
    serializer_class = SuppressionOutput

    @extend_schema(tags=TAGS, operation_id="suppressions_list", responses=SuppressionOutput(many=True),
                   parameters=[OpenApiParameter("kind", enum=SuppressionKind.values, required=False),
                               OpenApiParameter("reason", enum=SuppressionReason.values, required=False),
                               OpenApiParameter("search", str, required=False,
                                                description="part of the address or of the note")])
    def get(self, request, workspace_slug):
        params = request.query_params
        for name, values in (("kind", SuppressionKind.values), ("reason", SuppressionReason.values)):
            if params.get(name) and params[name] not in values:
                raise serializers.ValidationError({name: [f"one of {', '.join(values)}"]})
        suppressions = selectors.suppression_list(workspace=self.workspace, kind=params.get("kind", ""),
                                                  reason=params.get("reason", ""), search=params.get("search", ""))
        page = self.paginate_queryset(suppressions)
        return self.get_paginated_response(SuppressionOutput(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="suppressions_create", request=SuppressionInput,
                   responses={201: SuppressionOutput},
                   description="Adds an address, a domain or a phone number (normalized); an existing entry "
                               "is updated.")
    def post(self, request, workspace_slug):
        data = SuppressionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            suppression = services.suppression_add(workspace=self.workspace, actor=request.user, **values)
        except ValidationError as exc:
            raise serializers.ValidationError({"value": exc.messages}) from None
        return Response(SuppressionOutput(suppression).data, status=status.HTTP_201_CREATED)


class SuppressionDetailApi(WorkspaceScopedMixin, APIView):
    read_role = MARKETER
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="suppressions_retrieve", responses=SuppressionOutput)
    def get(self, request, workspace_slug, pk):
        return Response(SuppressionOutput(selectors.access_suppression(request.user, self.workspace, pk)).data)

    @extend_schema(tags=TAGS, operation_id="suppressions_destroy", responses={204: None})
    def delete(self, request, workspace_slug, pk):
        suppression = selectors.access_suppression(request.user, self.workspace, pk)
        services.suppression_remove(workspace=self.workspace, suppression=suppression, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- rule sets ---

class CapSerializer(serializers.ModelSerializer):
    channel = serializers.ChoiceField(choices=[("", "All channels"), *CHANNELS], required=False, default="",
                                      allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=INT_MAX)  # an `integer` column
    period = serializers.ChoiceField(choices=Period.choices)

    class Meta:
        model = FrequencyCap
        fields = ["id", "channel", "limit", "period"]
        read_only_fields = ["id"]


class RuleSetOutput(serializers.ModelSerializer):
    caps = CapSerializer(many=True)

    class Meta:
        model = RuleSet
        fields = ["id", "name", "caps", "created_at"]


class RuleSetInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    caps = CapSerializer(many=True, required=False, default=list)


class RuleSetListApi(WorkspaceScopedMixin, GenericAPIView):
    write_role = ADMIN
    queryset = RuleSet.objects.all()
    serializer_class = RuleSetOutput

    def scope_queryset(self, queryset):
        return queryset.prefetch_related("caps").order_by("name", "id")

    @extend_schema(tags=TAGS, operation_id="rule_sets_list", responses=RuleSetOutput(many=True))
    def get(self, request, workspace_slug):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RuleSetOutput(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="rule_sets_create", request=RuleSetInput, responses={201: RuleSetOutput})
    def post(self, request, workspace_slug):
        data = RuleSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        rule_set = configuration.rule_set_create(workspace=self.workspace, actor=request.user,
                                                 name=data.validated_data["name"],
                                                 caps=[dict(c) for c in data.validated_data["caps"]])
        return Response(RuleSetOutput(selectors.access_rule_set(request.user, self.workspace, rule_set.pk)).data,
                        status=status.HTTP_201_CREATED)


class RuleSetDetailApi(WorkspaceScopedMixin, APIView):
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="rule_sets_retrieve", responses=RuleSetOutput)
    def get(self, request, workspace_slug, pk):
        return Response(RuleSetOutput(selectors.access_rule_set(request.user, self.workspace, pk)).data)

    @extend_schema(tags=TAGS, operation_id="rule_sets_update", request=RuleSetInput, responses=RuleSetOutput,
                   description="Renames the rule set and replaces its caps with those given.")
    def put(self, request, workspace_slug, pk):
        rule_set = selectors.access_rule_set(request.user, self.workspace, pk)
        data = RuleSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        configuration.rule_set_update(workspace=self.workspace, actor=request.user, rule_set=rule_set,
                                      name=data.validated_data["name"],
                                      caps=[dict(c) for c in data.validated_data["caps"]])
        return Response(RuleSetOutput(selectors.access_rule_set(request.user, self.workspace, pk)).data)

    @extend_schema(tags=TAGS, operation_id="rule_sets_destroy", responses={204: None})
    def delete(self, request, workspace_slug, pk):
        rule_set = selectors.access_rule_set(request.user, self.workspace, pk)
        configuration.rule_set_delete(workspace=self.workspace, actor=request.user, rule_set=rule_set)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- quiet hours ---

class WindowSerializer(serializers.Serializer):
    allowed_from = serializers.TimeField(format="%H:%M")
    allowed_until = serializers.TimeField(format="%H:%M")


QUIET_HOURS = inline_serializer("QuietHours", {c: WindowSerializer(allow_null=True, required=False)
                                               for c, _ in CHANNELS})


def _quiet_hours_body(workspace) -> dict:
    return {channel: (WindowSerializer(q).data if q else None)
            for channel, q in selectors.quiet_hours(workspace=workspace).items()}


class QuietHoursApi(WorkspaceScopedMixin, APIView):
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="quiet_hours_retrieve", responses=QUIET_HOURS,
                   description="Per channel, the window in which messages may land in the recipient's time zone "
                               "(their time zone attribute, else the workspace's); null: any time.")
    def get(self, request, workspace_slug):
        return Response(_quiet_hours_body(self.workspace))

    @extend_schema(tags=TAGS, operation_id="quiet_hours_update", request=QUIET_HOURS, responses=QUIET_HOURS,
                   description="Sets the channels named (null removes a channel's window); others keep theirs.")
    def put(self, request, workspace_slug):
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"detail": ["an object of channel: window"]})
        hours, errors = {}, {}
        channels = [c for c, _ in CHANNELS]
        for channel, window in request.data.items():
            if channel not in channels:
                errors[channel] = [f"not a channel; one of {', '.join(channels)}"]
                continue
            if window is None:
                hours[channel] = None
                continue
            data = WindowSerializer(data=window)
            if not data.is_valid():
                errors[channel] = data.errors
                continue
            hours[channel] = (data.validated_data["allowed_from"], data.validated_data["allowed_until"])
        if errors:
            raise serializers.ValidationError(errors)
        configuration.quiet_hours_set(workspace=self.workspace, actor=request.user, hours=hours)
        return Response(_quiet_hours_body(self.workspace))


# --- the workspace policy ---

class PolicySerializer(serializers.Serializer):
    four_eyes = serializers.BooleanField(required=False,
                                         help_text="The person who publishes must not be the last editor.")
    soft_bounce_threshold = serializers.IntegerField(required=False, min_value=configuration.SOFT_BOUNCE_RANGE[0],
                                                     max_value=configuration.SOFT_BOUNCE_RANGE[1])
    unsubscribe_link_days = serializers.IntegerField(required=False,
                                                     min_value=configuration.UNSUBSCRIBE_DAYS_RANGE[0],
                                                     max_value=configuration.UNSUBSCRIBE_DAYS_RANGE[1])


class PolicyApi(WorkspaceScopedMixin, APIView):
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="consent_policy_retrieve", responses=PolicySerializer)
    def get(self, request, workspace_slug):
        return Response(PolicySerializer(selectors.policy(workspace=self.workspace)).data)

    @extend_schema(tags=TAGS, operation_id="consent_policy_update", request=PolicySerializer,
                   responses=PolicySerializer, description="Fields left out keep their value.")
    def put(self, request, workspace_slug):
        data = PolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = configuration.policy_update(workspace=self.workspace, actor=request.user, **data.validated_data)
        return Response(PolicySerializer(policy).data)


class InboundSmsRotateSerializer(serializers.Serializer):
    grace_minutes = serializers.IntegerField(
        min_value=0, max_value=24 * 60, default=0,
        help_text="Minutes the replaced URL keeps working (0: refused at once; at most 1440).")


class InboundSmsUrlApi(WorkspaceScopedMixin, APIView):
    read_role = ADMIN  # the URL holds the secret that lets a caller write STOP and START
    write_role = ADMIN

    def _url(self, request) -> str:
        path = reverse("consent-inbound-sms", kwargs={"workspace_slug": self.workspace.slug,
                                                      "secret": inbound.current_secret(self.workspace)})
        return request.build_absolute_uri(path)

    @extend_schema(tags=TAGS, operation_id="consent_inbound_sms_url",
                   responses=inline_serializer("InboundSmsUrl", {"url": serializers.URLField()}),
                   description="The URL SMS providers POST replies to (`from`, `body`): STOP and its synonyms "
                               "withdraw the number's SMS topics, START grants them again.")
    def get(self, request, workspace_slug):
        return Response({"url": self._url(request)})

    @extend_schema(tags=TAGS, operation_id="consent_inbound_sms_url_rotate", request=InboundSmsRotateSerializer,
                   responses=inline_serializer("InboundSmsUrlRotated", {
                       "url": serializers.URLField(),
                       "previous_valid_until": serializers.DateTimeField(allow_null=True)}),
                   description="Give the inbound SMS URL a new secret (audited). The replaced URL is refused at "
                               "once, or after `grace_minutes`.")
    def post(self, request, workspace_slug):
        data = InboundSmsRotateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = configuration.inbound_sms_secret_rotate(workspace=self.workspace, actor=request.user,
                                                         grace_minutes=data.validated_data["grace_minutes"])
        until = policy.inbound_sms_previous_valid_until
        return Response({"url": self._url(request),
                         "previous_valid_until": serializers.DateTimeField().to_representation(until) if until
                         else None})
