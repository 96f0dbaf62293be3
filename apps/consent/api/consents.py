"""Consent, suppression and business rules over the API.

Roles: reading topics, rule sets, quiet hours and the policy: viewers; a profile's current
consent: viewers; its history and the suppression list (personal data: addresses, who
said what when): marketers; recording and importing consents: marketers; adding a
suppression by hand: approvers (it only stops sending, and approvers decide sending);
removing one (it lets mail reach a bounced or complaining address again), topics, rule
sets, quiet hours and the workspace policy: workspace admins."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.net import client_ip
from apps.datamodel.models import IngestionMode
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import configuration, imports, selectors, services
from ..models import (
    CHANNELS,
    ConsentEvent,
    Policy,
    Source,
    Topic,
)

TAGS = ["consent"]
VIEWER, MARKETER, APPROVER, ADMIN = (WorkspaceRole.VIEWER, WorkspaceRole.MARKETER, WorkspaceRole.APPROVER,
                                     WorkspaceRole.ADMIN)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


# --- topics ---

class TopicOutput(serializers.ModelSerializer):
    class Meta:
        model = Topic
        fields = ["id", "key", "name", "channel", "policy", "description", "created_at"]


class TopicInput(serializers.Serializer):
    key = serializers.SlugField(max_length=50, help_text="Fixed once created: activities name the topic by key.")
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=CHANNELS, help_text="Fixed once created.")
    policy = serializers.ChoiceField(choices=Policy.choices, default=Policy.OPT_IN)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class TopicUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    policy = serializers.ChoiceField(choices=Policy.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class TopicListApi(WorkspaceScopedMixin, GenericAPIView):
    queryset = Topic.objects.all()
    serializer_class = TopicOutput
    write_role = ADMIN

    def scope_queryset(self, queryset):
        return queryset.order_by("channel", "name", "id")

    @extend_schema(tags=TAGS, operation_id="consent_topics_list", responses=TopicOutput(many=True),
                   parameters=[OpenApiParameter("channel", enum=[c for c, _ in CHANNELS], required=False)])
    def get(self, request, workspace_slug):
        topics = self.get_queryset()
        channel = request.query_params.get("channel")
        if channel:
            topics = topics.filter(channel=channel)
        page = self.paginate_queryset(topics)
        return self.get_paginated_response(TopicOutput(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="consent_topics_create", request=TopicInput, responses={201: TopicOutput})
    def post(self, request, workspace_slug):
        data = TopicInput(data=request.data)
        data.is_valid(raise_exception=True)
        topic = configuration.topic_create(workspace=self.workspace, actor=request.user, **data.validated_data)
        return Response(TopicOutput(topic).data, status=status.HTTP_201_CREATED)


class TopicDetailApi(WorkspaceScopedMixin, APIView):
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="consent_topics_retrieve", responses=TopicOutput)
    def get(self, request, workspace_slug, pk):
        return Response(TopicOutput(selectors.access_topic(request.user, self.workspace, pk)).data)

    def _update(self, request, pk):
        topic = selectors.access_topic(request.user, self.workspace, pk)
        data = TopicUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        for fixed in ("key", "channel"):
            if fixed in request.data and request.data[fixed] != getattr(topic, fixed):
                raise serializers.ValidationError({fixed: [f"the {fixed} of a topic cannot change"]})
        topic = configuration.topic_update(workspace=self.workspace, actor=request.user, topic=topic,
                                           **data.validated_data)
        return Response(TopicOutput(topic).data)

    @extend_schema(tags=TAGS, operation_id="consent_topics_update", request=TopicUpdateInput, responses=TopicOutput)
    def put(self, request, workspace_slug, pk):
        return self._update(request, pk)

    @extend_schema(tags=TAGS, operation_id="consent_topics_partial_update", request=TopicUpdateInput,
                   responses=TopicOutput)
    def patch(self, request, workspace_slug, pk):
        return self._update(request, pk)

    @extend_schema(tags=TAGS, operation_id="consent_topics_destroy",
                   responses={204: None, 409: OpenApiResponse(description="The topic has consent history.")})
    def delete(self, request, workspace_slug, pk):
        topic = selectors.access_topic(request.user, self.workspace, pk)
        try:
            configuration.topic_delete(workspace=self.workspace, actor=request.user, topic=topic)
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- consents ---

class EventOutput(serializers.ModelSerializer):
    topic = serializers.CharField(source="topic.key")
    actor = serializers.CharField(source="actor_label")

    class Meta:
        model = ConsentEvent
        fields = ["id", "profile_key", "topic", "channel", "granted", "source", "actor", "at", "recorded_at",
                  "ip_address", "reference", "proof"]


class ConsentInput(serializers.Serializer):
    profile_key = serializers.CharField(max_length=imports.PROFILE_KEY_MAX)
    topic = serializers.CharField(required=False, help_text="The topic's key (with `channel` when the key is on "
                                                            "several channels)...")
    channel = serializers.ChoiceField(choices=CHANNELS, required=False)
    topic_id = serializers.IntegerField(required=False, help_text="...or its id.")
    granted = serializers.BooleanField()
    source = serializers.ChoiceField(choices=[s for s in Source.choices if s[0] in imports.IMPORT_SOURCES],
                                     default=Source.API)
    at = serializers.DateTimeField(required=False, help_text="When the person said it; default: now.")
    proof = serializers.CharField(required=False, allow_blank=True, default="", max_length=imports.PROOF_MAX)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)

    def validate(self, attrs):
        if not attrs.get("topic") and not attrs.get("topic_id"):
            raise serializers.ValidationError({"topic": ["give the topic's key or its id (topic_id)"]})
        at = attrs.get("at")
        if at and at > dt.datetime.now(dt.UTC) + imports.FUTURE_SKEW:
            raise serializers.ValidationError({"at": ["in the future"]})
        return attrs


class ConsentRecordApi(WorkspaceScopedMixin, APIView):
    write_role = MARKETER

    @extend_schema(tags=TAGS, operation_id="consents_record", request=ConsentInput, responses={201: EventOutput},
                   description="Records one answer in the ledger; the current state moves to it when it is the "
                               "newest answer of that profile on that topic.")
    def post(self, request, workspace_slug):
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("topic_id"):
            topic = selectors.access_topic(request.user, self.workspace, values["topic_id"])
        else:
            topic, field_name, why = imports.TopicFinder(self.workspace).find(values["topic"], values.get("channel", ""))
            if topic is None:
                raise serializers.ValidationError({field_name: [why]})
        event = services.consent_record(workspace=self.workspace, profile_key=values["profile_key"].strip(),
                                        topic=topic, granted=values["granted"], source=values["source"],
                                        actor=request.user, at=values.get("at"), ip_address=client_ip(request),
                                        reference=values["reference"], proof=values["proof"])
        return Response(EventOutput(event).data, status=status.HTTP_201_CREATED)


REPORT = inline_serializer("ConsentImportReport", {
    "status": serializers.ChoiceField(choices=["done", "rejected"]),
    "mode": serializers.ChoiceField(choices=list(imports.MODES)),
    "rows": serializers.IntegerField(), "imported": serializers.IntegerField(),
    "granted": serializers.IntegerField(), "withdrawn": serializers.IntegerField(),
    "skipped": serializers.IntegerField(), "states_changed": serializers.IntegerField(),
    "error_count": serializers.IntegerField(),
    "errors": inline_serializer("ConsentImportProblem", {
        "row": serializers.IntegerField(), "field": serializers.CharField(), "value": serializers.CharField(),
        "reason": serializers.CharField()}, many=True),
    "message": serializers.CharField()})


def _mode(data) -> tuple[str, int]:
    mode = str(data.get("mode") or "reject")
    if mode not in imports.MODES:
        raise serializers.ValidationError({"mode": ["one of reject, skip"]})
    try:
        max_errors = int(data.get("max_errors") or imports.DEFAULT_MAX_ERRORS)
    except (TypeError, ValueError):
        raise serializers.ValidationError({"max_errors": ["a whole number"]}) from None
    if max_errors < 0:
        raise serializers.ValidationError({"max_errors": ["zero or more"]})
    return mode, max_errors


def _rejected(exc, mode: str) -> Response:
    """A file or batch refused as a whole: the same report shape as any other answer
    (ConsentImportReport), nothing counted."""
    report = imports.ImportReport(status="rejected", mode=mode, error_count=len(exc.problems),
                                  errors=list(exc.problems[:imports.MAX_REPORTED]), message=str(exc))
    return Response(report.as_dict(), status=status.HTTP_400_BAD_REQUEST)


def _run_import(view, request, records, mode, max_errors, reference) -> Response:
    try:
        report = imports.consent_import(workspace=view.workspace, actor=request.user, records=records, mode=mode,
                                        max_errors=max_errors, reference=reference, ip_address=client_ip(request))
    except imports.ImportError_ as exc:
        return _rejected(exc, mode)
    return Response(report.as_dict(),
                    status=status.HTTP_201_CREATED if report.status == "done" else status.HTTP_400_BAD_REQUEST)


class ConsentImportApi(WorkspaceScopedMixin, APIView):
    write_role = MARKETER
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(tags=TAGS, operation_id="consents_import",
                   request={"multipart/form-data": inline_serializer("ConsentImportInput", {
                       "file": serializers.FileField(help_text="CSV with a header: profile_key, topic, granted, "
                                                               "and optionally channel, at, source, proof."),
                       "mode": serializers.ChoiceField(choices=IngestionMode.choices, required=False),
                       "max_errors": serializers.IntegerField(required=False, min_value=0)})},
                   responses={201: REPORT, 400: REPORT},
                   description="Every problem is reported with its row (1 = the line after the header), field and "
                               "why. mode=reject (default): any bad row rejects the file and nothing is written; "
                               "mode=skip: bad rows are left out, up to max_errors (default 100).")
    def post(self, request, workspace_slug):
        upload = request.FILES.get("file")
        if upload is None:
            raise serializers.ValidationError({"file": ["a CSV file is required"]})
        mode, max_errors = _mode(request.data)
        try:
            records = imports.csv_records(upload.read())
        except imports.ImportError_ as exc:
            return _rejected(exc, mode)
        return _run_import(self, request, records, mode, max_errors, reference=f"import {upload.name}"[:200])


class ConsentBatchApi(WorkspaceScopedMixin, APIView):
    write_role = MARKETER

    @extend_schema(tags=TAGS, operation_id="consents_batch",
                   request=inline_serializer("ConsentBatchInput", {
                       "mode": serializers.ChoiceField(choices=IngestionMode.choices, required=False),
                       "max_errors": serializers.IntegerField(required=False, min_value=0),
                       "consents": serializers.ListField(child=serializers.DictField())}),
                   responses={201: REPORT, 400: REPORT},
                   description="The CSV import's rules for a JSON list of records (the same fields). The body may "
                               "also be the bare list (reject mode).")
    def post(self, request, workspace_slug):
        body = request.data
        if isinstance(body, list):
            items, mode, max_errors = body, "reject", imports.DEFAULT_MAX_ERRORS
        elif isinstance(body, dict) and isinstance(body.get("consents"), list):
            items = body["consents"]
            mode, max_errors = _mode(body)
        else:
            raise serializers.ValidationError({"consents": ["a list of consent records"]})
        return _run_import(self, request, imports.json_records(items), mode, max_errors, reference="api batch")


class AnswerOutput(serializers.Serializer):
    topic = serializers.CharField(source="topic.key")
    topic_id = serializers.IntegerField(source="topic.pk")
    name = serializers.CharField(source="topic.name")
    channel = serializers.CharField(source="topic.channel")
    policy = serializers.CharField(source="topic.policy")
    granted = serializers.BooleanField(help_text="What sending does now: the recorded answer, else the policy's.")
    recorded = serializers.BooleanField(help_text="False: nothing recorded; the topic's policy applies.")
    at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField()


class ProfileConsentsApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="profile_consents",
                   responses={200: inline_serializer("ProfileConsents", {
                       "profile_key": serializers.CharField(), "consents": AnswerOutput(many=True)})},
                   description="The profile's current answer on every topic. 404 for a profile with neither "
                               "a consent event nor a row in the profile dimension.")
    def get(self, request, workspace_slug, profile_key):
        key = selectors.access_profile_key(request.user, self.workspace, profile_key)
        answers = selectors.profile_consents(workspace=self.workspace, profile_key=key)
        return Response({"profile_key": key, "consents": AnswerOutput(answers, many=True).data})


class ProfileHistoryApi(WorkspaceScopedMixin, GenericAPIView):
    read_role = MARKETER  # who said what, when, from which IP: personal data
    serializer_class = EventOutput
    queryset = ConsentEvent.objects.all()

    @extend_schema(tags=TAGS, operation_id="profile_consents_history", responses=EventOutput(many=True),
                   description="The profile's ledger events, newest first (by when the person said it).")
    def get(self, request, workspace_slug, profile_key):
        key = selectors.access_profile_key(request.user, self.workspace, profile_key)
        page = self.paginate_queryset(selectors.profile_history(workspace=self.workspace, profile_key=key))
        return self.get_paginated_response(EventOutput(page, many=True).data)
