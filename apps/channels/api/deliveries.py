"""Deliveries over the API: the workspace's deliveries (by campaign, run, status,
channel); one delivery with its counts by state, by exclusion reason and its opens and
clicks; its messages, page by page (by status); stopping it (approvers, as for stopping
a campaign): queued messages are cancelled, messages being sent finish."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import selectors, services
from ..models import ChannelKind, Delivery, DeliveryStatus, Message, MessageStatus

TAGS = ["deliveries"]


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The delivery is not in a state that allows this."
    default_code = "conflict"


# --- shapes ------------------------------------------------------------------------------


class DeliveryListInput(serializers.Serializer):
    campaign = serializers.IntegerField(required=False, min_value=1)
    run = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    channel = serializers.ChoiceField(choices=ChannelKind.choices, required=False)


class MessageListInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=MessageStatus.choices, required=False)


class DeliveryOutput(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True)
    run = serializers.IntegerField(source="run_id", allow_null=True)
    created_by = serializers.CharField(source="created_by.email", default=None, allow_null=True)
    counts = serializers.JSONField(help_text="At creation: {\"queued\": n, \"excluded\": {reason: n}}.")
    url = serializers.SerializerMethodField()
    outage = serializers.SerializerMethodField(help_text="While the provider cannot be reached: since when, the "
                                               "last error and when sending resumes; null otherwise.")

    class Meta:
        model = Delivery
        fields = ["id", "name", "channel", "status", "proof", "campaign", "run", "node_id", "total", "counts",
                  "created_by", "created_at", "expires_at", "finished_at", "outage", "url"]

    def get_outage(self, obj: Delivery) -> dict | None:
        if obj.outage_since is None:
            return None
        return {"since": obj.outage_since.isoformat(), "failures": obj.outage_failures, "error": obj.outage_error,
                "retrying_at": obj.paused_until.isoformat() if obj.paused_until else None, "note": obj.outage_note}

    def get_url(self, obj: Delivery) -> str:
        path = reverse("api-chan-delivery-detail", kwargs={"workspace_slug": self.context["workspace"].slug,
                                                           "pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class EngagementOutput(serializers.Serializer):
    total = serializers.IntegerField()
    unique = serializers.IntegerField(help_text="Distinct messages.")


class StatsOutput(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField(), help_text="Messages per state, every state.")
    excluded = serializers.DictField(child=serializers.IntegerField(), help_text="Excluded messages per reason code.")
    failed = serializers.DictField(child=serializers.IntegerField(), help_text="Failed messages per reason code.")
    pending = serializers.IntegerField(help_text="Queued, sending or deferred.")
    progress = serializers.IntegerField(help_text="Percent of the messages to send that are settled.")
    opens = EngagementOutput()
    clicks = EngagementOutput()


class DeliveryDetailOutput(DeliveryOutput):
    content = serializers.JSONField(help_text="The snapshot of the content that was sent.")
    options = serializers.JSONField()
    stats = serializers.SerializerMethodField()

    class Meta(DeliveryOutput.Meta):
        fields = [*DeliveryOutput.Meta.fields, "content", "options", "stats"]

    @extend_schema_field(StatsOutput)
    def get_stats(self, obj: Delivery) -> dict[str, Any]:
        return StatsOutput(self.context["stats"]).data


class MessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "profile_key", "target_key", "address", "status", "reason", "error", "attempts", "sent_at",
                  "provider_id"]


# --- views -------------------------------------------------------------------------------


def _context(view, request) -> dict[str, Any]:
    return {"request": request, "workspace": view.workspace}


class DeliveryListApi(WorkspaceScopedMixin, GenericAPIView):
    queryset = Delivery.objects.all()
    serializer_class = DeliveryOutput

    @extend_schema(tags=TAGS, operation_id="deliveries_list", parameters=[DeliveryListInput],
                   responses=DeliveryOutput(many=True),
                   description="The workspace's deliveries, newest first; filter by campaign, run, status, channel.")
    def get(self, request, workspace_slug):
        params = DeliveryListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        deliveries = selectors.delivery_list(workspace=self.workspace, filters=params.validated_data)
        page = self.paginate_queryset(deliveries.select_related("created_by"))
        return self.get_paginated_response(DeliveryOutput(page, many=True, context=_context(self, request)).data)


class DeliveryDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="deliveries_retrieve", responses=DeliveryDetailOutput,
                   description="The delivery with its content snapshot and `stats`: messages per state and per "
                               "exclusion reason, and opens and clicks (in all and distinct messages).")
    def get(self, request, workspace_slug, pk):
        delivery = selectors.access_delivery(request.user, self.workspace, pk)
        return Response(_detail(self, request, delivery))


def _detail(view, request, delivery: Delivery) -> dict[str, Any]:
    stats = selectors.delivery_stats(delivery=delivery)
    return DeliveryDetailOutput(delivery, context={**_context(view, request), "stats": stats}).data


class DeliveryMessageListApi(WorkspaceScopedMixin, GenericAPIView):
    queryset = Message.objects.all()
    serializer_class = MessageOutput

    @extend_schema(tags=TAGS, operation_id="deliveries_messages_list", parameters=[MessageListInput],
                   responses=MessageOutput(many=True),
                   description="The delivery's messages in id order, page by page; filter by status.")
    def get(self, request, workspace_slug, pk):
        delivery = selectors.access_delivery(request.user, self.workspace, pk)
        params = MessageListInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        messages = selectors.message_list(delivery=delivery, status=params.validated_data.get("status"))
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(MessageOutput(page, many=True).data)


class DeliveryStopApi(WorkspaceScopedMixin, APIView):
    write_role = WorkspaceRole.APPROVER

    @extend_schema(tags=TAGS, operation_id="deliveries_stop", request=None,
                   responses={200: inline_serializer("DeliveryStopped", {
                       "cancelled": serializers.IntegerField(), "delivery": DeliveryDetailOutput()}),
                       409: OpenApiResponse(description="The delivery is not sending any more.")},
                   description="Cancels the messages that have not left (queued or waiting for a retry); messages "
                               "being handed to the provider right now finish. A finished delivery is a 409.")
    def post(self, request, workspace_slug, pk):
        delivery = selectors.access_delivery(request.user, self.workspace, pk)
        if delivery.status != DeliveryStatus.SENDING:
            raise Conflict(f"The delivery is already {delivery.get_status_display().lower()}.")
        cancelled = services.delivery_stop(workspace=self.workspace, delivery=delivery)
        delivery.refresh_from_db()
        return Response({"cancelled": cancelled, "delivery": _detail(self, request, delivery)})
