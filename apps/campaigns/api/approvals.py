"""Approval over the API, as on the campaign's page: read where a campaign stands and its
thread; request approval and comment (marketers); approve (= publish the version as asked)
or send back with a reason (approvers, never the requester: 409). A key's request is
decided by a person signed in (an approver key deciding on it: 409)."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import selectors, services
from ..models import ApprovalRequest, ApprovalStatus, Campaign
from .common import CONFLICT, PROBLEMS, TAGS, lifecycle

# The requests a body shows, newest first (a campaign asked many times keeps its history
# in the audit log; the last few are what a reader needs).
RECENT = 10


class ApprovalEventOutput(serializers.Serializer):
    kind = serializers.CharField()
    author = serializers.EmailField(source="author.email", allow_null=True, default=None)
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class ApprovalRequestOutput(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField(source="version.number")
    status = serializers.ChoiceField(choices=ApprovalStatus.choices)
    requested_by = serializers.EmailField(source="requested_by.email", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    decided_by = serializers.EmailField(source="decided_by.email", allow_null=True, default=None)
    decided_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    events = ApprovalEventOutput(many=True, source="events.all")


class CampaignApprovalOutput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=["draft", "awaiting", "sent_back", "approved", "published"],
                                    help_text="Where the latest version stands.")
    requests = ApprovalRequestOutput(many=True, help_text="The latest requests, newest first.")


class NoteInput(serializers.Serializer):
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)


class CommentInput(serializers.Serializer):
    body = serializers.CharField(max_length=2000)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


def approval_body(campaign: Campaign) -> dict:
    requests = list(ApprovalRequest.objects.filter(campaign=campaign).select_related(
        "version", "requested_by", "decided_by").prefetch_related("events__author")
        .order_by("-created_at", "-id")[:RECENT])
    version = services.latest_version(campaign)
    stage = selectors.approval_stage(version, requests[0] if requests else None)
    return CampaignApprovalOutput({"stage": stage, "requests": requests}).data


class CampaignApprovalApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="campaigns_approval", responses=CampaignApprovalOutput,
                   description="Where the campaign stands (draft, awaiting approval, sent back, approved, "
                               "published) and the thread of its latest requests.")
    def get(self, request, workspace_slug, pk):
        return Response(approval_body(selectors.access_campaign(request.user, self.workspace, pk)))


class _ApprovalAction(WorkspaceScopedMixin, APIView):
    input_class: type[serializers.Serializer]
    act: Callable

    def post(self, request, workspace_slug, pk):
        campaign = selectors.access_campaign(request.user, self.workspace, pk)
        data = self.input_class(data=request.data)
        data.is_valid(raise_exception=True)
        with lifecycle():
            type(self).act(self.workspace, request.user, campaign, **data.validated_data)
        return Response(approval_body(campaign))


def _open(campaign: Campaign) -> ApprovalRequest:
    from django.core.exceptions import ValidationError  # noqa: PLC0415

    current = services.open_request(campaign)
    if current is None:
        raise ValidationError("No approval is requested for this campaign.")
    return current


def _action(name: str, input_class, act: Callable, role: str, description: str) -> type[_ApprovalAction]:
    @extend_schema(tags=TAGS, operation_id=f"campaigns_approval_{name}", request=input_class,
                   responses={200: CampaignApprovalOutput, 400: PROBLEMS, 409: CONFLICT}, description=description)
    def post(self, request, workspace_slug, pk):
        return _ApprovalAction.post(self, request, workspace_slug, pk)

    return type(f"CampaignApproval{name.title().replace('_', '')}Api", (_ApprovalAction,), {
        "post": post, "input_class": input_class, "act": staticmethod(act), "write_role": role,
        "__module__": __name__})


CampaignApprovalRequestApi = _action(
    "request", NoteInput,
    lambda ws, actor, campaign, note: services.approval_request(workspace=ws, actor=actor, campaign=campaign,
                                                                note=note),
    WorkspaceRole.MARKETER, "Ask the workspace's approvers to publish the latest draft (checked as publishing "
                            "does); they are emailed. 409 when a request is already open.")
CampaignApprovalCommentApi = _action(
    "comment", CommentInput,
    lambda ws, actor, campaign, body: services.approval_comment(workspace=ws, actor=actor, request=_open(campaign),
                                                                body=body),
    WorkspaceRole.MARKETER, "A comment in the open request's thread.")
CampaignApprovalApproveApi = _action(
    "approve", NoteInput,
    lambda ws, actor, campaign, note: services.approval_approve(workspace=ws, actor=actor, request=_open(campaign),
                                                                note=note),
    WorkspaceRole.APPROVER, "Publish the version as it was asked (409 if it was edited since, or if you asked).")
CampaignApprovalSendBackApi = _action(
    "send_back", ReasonInput,
    lambda ws, actor, campaign, reason: services.approval_send_back(workspace=ws, actor=actor,
                                                                    request=_open(campaign), reason=reason),
    WorkspaceRole.APPROVER, "Refuse with a reason: the campaign stays a draft; the requester is emailed.")
