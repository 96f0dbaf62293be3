"""A campaign's schedule over the API: read it with its next 10 launch times; set or
remove it. The beat entry is written on publish (and follows later changes)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole, at_least

from .. import selectors
from ..models import CampaignSchedule, CampaignStatus
from ..scheduling import describe, next_launches, parse_spec
from ..services import schedule_remove, schedule_set
from .common import TAGS

ScheduleOutput = inline_serializer("CampaignScheduleOutput", {
    "spec": serializers.JSONField(allow_null=True),
    "description": serializers.CharField(allow_null=True),
    "grace_minutes": serializers.IntegerField(allow_null=True),
    "next_launches": serializers.ListField(child=serializers.DateTimeField()),
    "time_zone": serializers.CharField(),
})


class ScheduleInput(serializers.Serializer):
    spec = serializers.JSONField(help_text='e.g. {"kind": "weekly", "weekdays": [1], "times": ["09:00"]}; '
                                           "kinds: once, daily, several, weekly, monthly, cron")
    grace_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60, required=False)


def _body(campaign) -> dict:
    schedule = CampaignSchedule.objects.filter(campaign=campaign).first()
    zone = campaign.workspace.time_zone
    if schedule is None:
        return {"spec": None, "description": None, "grace_minutes": None, "next_launches": [], "time_zone": zone}
    spec = parse_spec(schedule.spec, zone)
    return {"spec": schedule.spec, "description": describe(spec), "grace_minutes": schedule.grace_minutes,
            "next_launches": next_launches(spec, after=timezone.now(), count=10), "time_zone": zone}


class CampaignScheduleApi(WorkspaceScopedMixin, APIView):
    """Marketers schedule a draft; changing a published campaign's schedule needs an approver."""

    def _may_change(self, campaign) -> None:
        if campaign.status != CampaignStatus.DRAFT and not at_least(self.workspace_role, WorkspaceRole.APPROVER):
            raise PermissionDenied("Changing a published campaign's schedule needs the approver role.")

    @extend_schema(tags=TAGS, operation_id="campaigns_schedule_retrieve", responses=ScheduleOutput,
                   description="The schedule and its next 10 launch times in the workspace's time zone.")
    def get(self, request, workspace_slug, pk):
        return Response(_body(selectors.access_campaign(request.user, self.workspace, pk)))

    @extend_schema(tags=TAGS, operation_id="campaigns_schedule_update", request=ScheduleInput,
                   responses=ScheduleOutput, description="Set the schedule (checked; 400 with the reason).")
    def put(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        self._may_change(campaign)
        data = ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            schedule_set(campaign=campaign, spec=data.validated_data["spec"],
                         grace_minutes=data.validated_data.get("grace_minutes"))
        except ValidationError as exc:
            raise serializers.ValidationError({"spec": exc.messages}) from None
        return Response(_body(campaign))

    @extend_schema(tags=TAGS, operation_id="campaigns_schedule_destroy", responses={204: None},
                   description="Remove the schedule (the campaign then starts only by hand or by trigger).")
    def delete(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        self._may_change(campaign)
        schedule_remove(campaign=campaign)
        return Response(status=204)
