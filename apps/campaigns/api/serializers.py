"""Input and output shapes of the campaigns API. A definition is taken as any JSON: the
graph checker judges it against the workspace's model and names the activity of each
problem ({"problems": [{"node", "message"}]})."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import ActivityRun, Campaign, CampaignStatus, Run
from ..selectors import edge_counts

# A partner's variables travel with the run; they are data, not a payload store.
MAX_VARIABLES_BYTES = 16 * 1024

DEFINITION_SCHEMA = {
    "type": "object",
    "description": (
        "A campaign as a graph: `nodes` (activities: {\"id\": \"nl\", \"type\": \"build_audience\", "
        "\"settings\": {...}, \"label\": \"...\"}; ids are 1-30 lowercase letters, digits or _) and `edges` "
        "({\"from\": \"start\", \"outlet\": \"out\", \"to\": \"nl\"}). The types are listed by "
        "`activity-types/`. Exactly one `start`."),
    "properties": {
        "nodes": {"type": "array", "items": {"type": "object", "additionalProperties": True,
                                             "properties": {"id": {"type": "string"}, "type": {"type": "string"},
                                                            "settings": {"type": "object",
                                                                         "additionalProperties": True},
                                                            "label": {"type": "string"}},
                                             "required": ["id", "type"]}},
        "edges": {"type": "array", "items": {"type": "object",
                                             "properties": {"from": {"type": "string"},
                                                            "outlet": {"type": "string", "default": "out"},
                                                            "to": {"type": "string"}},
                                             "required": ["from", "to"]}},
    },
    "required": ["nodes"],
    "example": {"nodes": [{"id": "start", "type": "start"},
                          {"id": "nl", "type": "build_audience", "settings": {"definition": {
                              "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}}},
                          {"id": "end", "type": "end"}],
                "edges": [{"from": "start", "to": "nl"}, {"from": "nl", "to": "end"}]},
}
VARIABLES_SCHEMA = {"type": "object", "additionalProperties": True,
                    "description": "Any JSON object (at most 16 KiB), kept on the run.",
                    "example": {"offer": "SPRING24"}}
OBJECT_SCHEMA = {"type": "object", "additionalProperties": True}


@extend_schema_field(DEFINITION_SCHEMA)
class DefinitionField(serializers.JSONField):
    """Any JSON: check_graph says what is wrong with it, and in which activity."""


@extend_schema_field(OBJECT_SCHEMA)
class ObjectField(serializers.JSONField):
    pass


@extend_schema_field(VARIABLES_SCHEMA)
class VariablesField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError("Variables are a JSON object.")
        if len(json.dumps(value)) > MAX_VARIABLES_BYTES:
            raise serializers.ValidationError(f"Variables take at most {MAX_VARIABLES_BYTES // 1024} KiB of JSON.")
        return value


def _url(context: dict[str, Any], name: str, obj: Any) -> str:
    workspace = context.get("workspace") or obj.workspace
    return _absolute(context, reverse(name, kwargs={"workspace_slug": workspace.slug, "pk": obj.pk}))


def _absolute(context: dict[str, Any], path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


# --- errors ---------------------------------------------------------------------------------

class CampaignProblem(serializers.Serializer):
    node = serializers.CharField(help_text="The activity id (or `edges[i]` / `nodes[i]`); empty for the whole graph.")
    message = serializers.CharField()


class CampaignProblems(serializers.Serializer):
    problems = CampaignProblem(many=True)


class ConflictDetail(serializers.Serializer):
    detail = serializers.CharField()


# --- campaigns ------------------------------------------------------------------------------

class CampaignLastRun(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    mode = serializers.CharField()
    created_at = serializers.DateTimeField()


class CampaignOutput(serializers.ModelSerializer):
    """A campaign as annotated by selectors.with_summary."""

    latest_version = serializers.IntegerField(source="latest_version_number",
                                              help_text="The number of the version being edited (or the latest).")
    published_version = serializers.IntegerField(source="published_version_number", allow_null=True,
                                                 help_text="The number of the version live runs execute.")
    last_run = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.email", default=None, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "description", "status", "confirm_before_send", "latest_version",
                  "published_version", "last_run", "created_by", "created_at", "updated_at", "url"]

    @extend_schema_field(CampaignLastRun(allow_null=True))
    def get_last_run(self, obj: Campaign) -> dict[str, Any] | None:
        if obj.last_run_id is None:
            return None
        return {"id": obj.last_run_id, "status": obj.last_run_status, "mode": obj.last_run_mode,
                "created_at": serializers.DateTimeField().to_representation(obj.last_run_created_at)}

    def get_url(self, obj: Campaign) -> str:
        return _url(self.context, "api-camp-campaign-detail", obj)


class CampaignVersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    published_at = serializers.DateTimeField(allow_null=True)
    published_by = serializers.CharField(source="published_by.email", default=None, allow_null=True)
    edited_by = serializers.CharField(source="edited_by.email", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CampaignDetailOutput(CampaignOutput):
    definition = DefinitionField(help_text="The latest version's definition.")
    versions = CampaignVersionOutput(many=True, source="versions_list", help_text="Newest first.")

    class Meta(CampaignOutput.Meta):
        fields = [*CampaignOutput.Meta.fields, "definition", "versions"]


class CampaignListInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=CampaignStatus.choices, required=False)


class CampaignCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    definition = DefinitionField(required=False, help_text="Defaults to a lone Start. May be incomplete.")


class CampaignUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    confirm_before_send = serializers.BooleanField(
        required=False, help_text="Live runs wait before their first channel activity until an approver confirms "
                                  "(`runs/<id>/confirm/`). Changing it needs the approver role.")


class CampaignDraftOutput(serializers.Serializer):
    version = serializers.IntegerField(source="number")
    published = serializers.BooleanField(source="is_published",
                                         help_text="True: saving makes a new draft version; this one stays.")
    definition = DefinitionField()
    edited_by = serializers.CharField(source="edited_by.email", default=None, allow_null=True)
    updated_at = serializers.DateTimeField()


class CampaignDraftInput(serializers.Serializer):
    definition = DefinitionField()


class CampaignValidOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    activities = serializers.IntegerField()


class CampaignTestRunInput(serializers.Serializer):
    skip_waits = serializers.BooleanField(required=False, default=False,
                                          help_text="Go through Wait activities at once (each reports until when "
                                                    "a live run would wait).")


class CampaignDuplicateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                 help_text="Defaults to '<name> (copy)'.")


class CampaignTriggerInput(serializers.Serializer):
    variables = VariablesField(required=False, default=dict)


# --- runs -----------------------------------------------------------------------------------

OUTLETS_SCHEMA = {"type": "object", "description": "Each outlet's entity and row count, by outlet name.",
                  "additionalProperties": {"type": "object", "properties": {
                      "entity": {"type": "string"}, "count": {"type": "integer", "nullable": True}}},
                  "example": {"out": {"entity": "customer", "count": 1200}}}


class ActivityOutput(serializers.ModelSerializer):
    outlets = serializers.SerializerMethodField()
    report = ObjectField()

    class Meta:
        model = ActivityRun
        fields = ["node_id", "type", "status", "attempts", "started_at", "finished_at", "rows_in", "rows_out",
                  "outlets", "report", "error"]

    @extend_schema_field(OUTLETS_SCHEMA)
    def get_outlets(self, obj: ActivityRun) -> dict[str, Any]:
        return {name: {"entity": o.get("entity"), "count": o.get("count")} for name, o in (obj.outlets or {}).items()}


class LogEntry(serializers.Serializer):
    sql = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    ms = serializers.FloatField(required=False)
    rows = serializers.IntegerField(required=False, allow_null=True)


class ActivityDetailOutput(ActivityOutput):
    log = LogEntry(many=True, help_text="What the activity did, statement by statement, with durations.")
    sql = serializers.SerializerMethodField(help_text="The SQL statements it ran, in order.")

    class Meta(ActivityOutput.Meta):
        fields = [*ActivityOutput.Meta.fields, "log", "sql"]

    def get_sql(self, obj: ActivityRun) -> list[str]:
        return [entry["sql"] for entry in obj.log or [] if isinstance(entry, dict) and entry.get("sql")]


# "from" is a Python keyword, so the class is built with type() to name the field as in JSON.
EdgeCount = type("EdgeCount", (serializers.Serializer,), {
    "__module__": __name__,
    "from": serializers.CharField(),
    "outlet": serializers.CharField(),
    "to": serializers.CharField(),
    "count": serializers.IntegerField(allow_null=True, help_text="Rows that went down the edge (null: none yet)."),
})


class RunOutput(serializers.ModelSerializer):
    campaign = serializers.IntegerField(source="campaign_id")
    version = serializers.IntegerField(source="version.number")
    variables = ObjectField()
    created_by = serializers.CharField(source="created_by.email", default=None, allow_null=True)
    confirmed_by = serializers.CharField(source="confirmed_by.email", default=None, allow_null=True,
                                         help_text="Who confirmed the first send (confirm_before_send).")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = ["id", "campaign", "version", "mode", "status", "trigger", "variables", "error", "created_by",
                  "created_at", "started_at", "finished_at", "confirmed_at", "confirmed_by", "skip_waits", "url"]

    def get_url(self, obj: Run) -> str:
        return _url(self.context, "api-camp-run-detail", obj)


class RunDetailOutput(RunOutput):
    activities = serializers.SerializerMethodField()
    edges = serializers.SerializerMethodField()
    definition = DefinitionField(source="version.definition")

    class Meta(RunOutput.Meta):
        fields = [*RunOutput.Meta.fields, "activities", "edges", "definition"]

    @extend_schema_field(ActivityOutput(many=True))
    def get_activities(self, obj: Run) -> list[dict[str, Any]]:
        return ActivityOutput(self.context["activities"], many=True).data

    @extend_schema_field(EdgeCount(many=True))
    def get_edges(self, obj: Run) -> list[dict[str, Any]]:
        return [{"from": src, "outlet": outlet, "to": dst, "count": count}
                for (src, outlet, dst), count in edge_counts(run=obj).items()]


class ActivityTypeOutput(serializers.Serializer):
    type = serializers.CharField()
    label = serializers.CharField()
    min_inputs = serializers.IntegerField()
    max_inputs = serializers.IntegerField(allow_null=True, help_text="null: any number.")
    start = serializers.BooleanField(help_text="The one activity every campaign begins with.")
    channel = serializers.BooleanField(help_text="Sends messages (nothing is sent in a test run).")
