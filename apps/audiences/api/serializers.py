"""Input and output shapes of the audiences API. A definition is taken as any JSON here:
the rule checker judges it against the workspace's model and names the path of each
problem ({"problems": [{"path", "message"}]}), which nested serializer errors could not."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.datamodel.ingestion.header import ENCODINGS
from apps.datamodel.selectors import value_for_json

from ..models import Audience, AudienceOrigin, AudienceStatus
from ..selectors import DISTRIBUTION_SIZE, SAMPLE_SIZE

MAX_SAMPLE = 100
MAX_DISTRIBUTION = 100

DEFINITION_SCHEMA = {
    "type": "object",
    "description": (
        "An audience definition: `entity` (the target entity's key), `rule` (a tree of conditions; none: every "
        "record) and `dimension` (links to follow to the entity of the result, e.g. [\"customer\"] turns "
        "bookings into their customers, each once). Nodes: {\"all\": [...]} / {\"any\": [...]} / "
        "{\"not\": node}; {\"attr\": \"country\", \"op\": \"eq\", \"value\": \"NL\"} (through many-to-one "
        "links: \"product.category\"); {\"attr\": \"booked_at\", \"op\": \"in_last\", \"value\": 90, "
        "\"unit\": \"days\"}; {\"related\": \"bookings\", \"exists\": true, \"where\": node}; "
        "{\"related\": \"bookings\", \"agg\": \"sum\", \"attr\": \"amount\", \"op\": \"gt\", \"value\": 2000}; "
        "{\"in_audience\": 12} / {\"not_in_audience\": 12}."),
    "properties": {
        "entity": {"type": "string", "example": "customer"},
        "rule": {"type": "object", "additionalProperties": True, "nullable": True,
                 "example": {"all": [{"attr": "country", "op": "eq", "value": "NL"}]}},
        "dimension": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["entity"],
}
RECORD_SCHEMA = {"type": "object", "additionalProperties": True,
                 "description": "A record keyed by attribute. Decimals are strings, dates and datetimes ISO 8601."}
VALUE_SCHEMA = {"description": "A value of the attribute (decimals as strings, dates ISO 8601), or null.",
                "nullable": True}


@extend_schema_field(DEFINITION_SCHEMA)
class DefinitionField(serializers.JSONField):
    """Any JSON: check_definition says what is wrong with it, and where."""


@extend_schema_field(RECORD_SCHEMA)
class RecordField(serializers.JSONField):
    pass


@extend_schema_field(VALUE_SCHEMA)
class ValueField(serializers.JSONField):
    pass


# --- saved audiences ---------------------------------------------------------------------

class UnmatchedKey(serializers.Serializer):
    line = serializers.IntegerField()
    key = serializers.CharField()


class UploadReport(serializers.Serializer):
    uploaded = serializers.IntegerField(help_text="Keys in the file (non-empty cells of the key column).")
    matched = serializers.IntegerField(help_text="Distinct keys of existing records: the list's size.")
    unmatched = serializers.IntegerField(help_text="Keys that are no record of the entity (invalid ones included).")
    invalid = serializers.IntegerField(help_text="Keys that cannot be keys of the entity (text for a number).")
    duplicates = serializers.IntegerField(help_text="Repeats of a matched key.")
    unmatched_sample = UnmatchedKey(many=True, help_text="The first unmatched keys with their line.")
    column = serializers.CharField(help_text="The column the keys were read from.")


class AudienceOutput(serializers.ModelSerializer):
    entity = serializers.CharField(source="entity.key", help_text="The entity of the audience's keys.")
    definition = DefinitionField()
    source_audience = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                                         help_text="A snapshot's source audience.")
    upload_report = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.email", default=None, allow_null=True)
    updated_by = serializers.CharField(source="updated_by.email", default=None, allow_null=True)
    url = serializers.SerializerMethodField(help_text="This audience (a snapshot's status while it builds).")

    class Meta:
        model = Audience
        fields = ["id", "name", "description", "entity", "origin", "definition", "status", "status_message", "size",
                  "last_evaluated_at", "last_evaluation_ms", "source_audience", "upload_report", "created_by",
                  "updated_by", "created_at", "updated_at", "url"]

    @extend_schema_field(UploadReport(allow_null=True))
    def get_upload_report(self, obj: Audience) -> dict[str, Any] | None:
        return obj.upload_report or None

    def get_url(self, obj: Audience) -> str:
        path = reverse("api-aud-audience-detail", kwargs={"workspace_slug": obj.workspace.slug, "pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class AudienceListInput(serializers.Serializer):
    origin = serializers.ChoiceField(choices=AudienceOrigin.choices, required=False)
    entity = serializers.CharField(max_length=63, required=False, help_text="Only audiences of this entity.")
    status = serializers.ChoiceField(choices=AudienceStatus.choices, required=False)


class AudienceCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    definition = DefinitionField()


class AudienceUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    definition = DefinitionField(required=False, help_text="Rule audiences only.")


class DuplicateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                 help_text="Default: '<name> (copy)', numbered if taken.")


class SnapshotInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class DelimiterField(serializers.ChoiceField):
    """, ; | or a tab (sent as a tab, or as `\\t` or `tab`)."""

    def __init__(self, **kwargs: Any):
        super().__init__(choices=[(",", "comma"), (";", "semicolon"), ("|", "pipe"), ("\t", "tab")], **kwargs)

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value({"\\t": "\t", "tab": "\t"}.get(data, data))


class UploadInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    entity = serializers.CharField(max_length=63, help_text="The entity whose keys the file lists.")
    file = serializers.FileField(help_text="A CSV file with a header line.")
    column = serializers.CharField(max_length=200, required=False,
                                   help_text="The column of keys. Default: the one named like the entity's "
                                             "primary key, or the only column.")
    encoding = serializers.ChoiceField(choices=sorted(ENCODINGS), default="utf-8")
    delimiter = DelimiterField(default=",")


class ExportInput(serializers.Serializer):
    attributes = serializers.CharField(required=False, help_text="Comma-separated attribute keys; default: all.")

    def validate_attributes(self, value: str) -> list[str]:
        return [a.strip() for a in value.split(",") if a.strip()]


class SampleQueryInput(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLE, default=SAMPLE_SIZE)


# --- evaluation ------------------------------------------------------------------------------

class DefinitionInput(serializers.Serializer):
    definition = DefinitionField()


class SampleInput(DefinitionInput):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_SAMPLE, default=SAMPLE_SIZE)


class DistributionInput(DefinitionInput):
    attribute = serializers.CharField(max_length=63, help_text="An attribute of the result's entity.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_DISTRIBUTION, default=DISTRIBUTION_SIZE)


class GroupCountsInput(DefinitionInput):
    path = serializers.CharField(max_length=1000, default="rule",
                                 help_text="The group, e.g. `rule` or `rule.all[1]` (`all`/`any` with an index, "
                                           "`not`).")


class Problem(serializers.Serializer):
    path = serializers.CharField(help_text="Where in the definition, e.g. `rule.all[1].value`.")
    message = serializers.CharField(help_text="What is wrong there.")


class Problems(serializers.Serializer):
    problems = Problem(many=True)


class ValidOutput(serializers.Serializer):
    valid = serializers.BooleanField()
    entity = serializers.CharField(help_text="The entity of the result's keys (after any change of dimension).")


class CountOutput(serializers.Serializer):
    count = serializers.IntegerField()
    ms = serializers.IntegerField(help_text="Milliseconds the database took.")
    sql = serializers.CharField(help_text="The query, with its values shown inline.")
    entity = serializers.CharField()


class SqlOutput(serializers.Serializer):
    sql = serializers.CharField(help_text="The query, with its values shown inline (for reading; values are bound "
                                          "when it runs).")
    entity = serializers.CharField()


class SampleOutput(serializers.Serializer):
    entity = serializers.CharField()
    records = serializers.ListField(child=RecordField())


class DistributionValue(serializers.Serializer):
    value = ValueField()
    count = serializers.IntegerField()


class DistributionOutput(serializers.Serializer):
    entity = serializers.CharField()
    attribute = serializers.CharField()
    values = DistributionValue(many=True, help_text="The most frequent values first (empty values as null).")


class GroupCount(serializers.Serializer):
    path = serializers.CharField()
    count = serializers.IntegerField()


class GroupCountsOutput(serializers.Serializer):
    groups = GroupCount(many=True, help_text="Each condition of the group alone, then the group itself (last).")


def records_json(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value_for_json(value) for key, value in record.items()} for record in records]
