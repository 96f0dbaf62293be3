"""Input and output shapes of the data store API. Inputs check types and shapes only; the
services judge the content (identifiers, enum values, type changes) and say what is wrong."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.integers import INT_MAX

from ..ingestion.services import MAX_BATCH_RECORDS, ingestion_progress
from ..models import (
    AddressRole,
    Attribute,
    AttributeType,
    Entity,
    IngestionJob,
    IngestionMode,
    Relationship,
    RelationshipKind,
)
from ..selectors import MAX_PAGE

PRIMARY_KEY_TYPES = [(t.value, t.label) for t in AttributeType if t.value in ("text", "integer", "email", "phone")]

RECORD_SCHEMA = {
    "type": "object",
    "additionalProperties": True,
    "description": "A record keyed by attribute. Decimals are strings, dates and datetimes ISO 8601.",
}


@extend_schema_field(RECORD_SCHEMA)
class RecordField(serializers.JSONField):
    """One record of a batch: any JSON value here, so that a bad record is reported (or
    skipped) on its own by the ingestion, not as a failure of the whole request."""


# --- model -------------------------------------------------------------------------------

class AttributeOutput(serializers.ModelSerializer):
    enum_values = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Attribute
        fields = ["key", "label", "type", "is_primary_key", "required", "enum_values", "position"]


class EntityOutput(serializers.ModelSerializer):
    primary_key = serializers.SerializerMethodField()
    attributes = AttributeOutput(many=True)

    class Meta:
        model = Entity
        fields = ["key", "label", "description", "is_profile", "primary_key", "display_attribute", "attributes",
                  "created_at", "updated_at"]

    def get_primary_key(self, obj: Entity) -> str:
        return obj.primary_key.key


class PrimaryKeyInput(serializers.Serializer):
    key = serializers.CharField(max_length=63)
    type = serializers.ChoiceField(choices=PRIMARY_KEY_TYPES)
    label = serializers.CharField(max_length=200, required=False, allow_blank=True)


class AttributeInput(serializers.Serializer):
    key = serializers.CharField(max_length=63)
    type = serializers.ChoiceField(choices=AttributeType.choices)
    label = serializers.CharField(max_length=200, required=False, allow_blank=True)
    required = serializers.BooleanField(required=False, default=False)
    enum_values = serializers.ListField(child=serializers.CharField(max_length=200, trim_whitespace=False),
                                        required=False, help_text="The allowed values of an enum attribute.")


class EntityCreateInput(serializers.Serializer):
    key = serializers.CharField(max_length=63, help_text="Lowercase letters, digits and underscores.")
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    is_profile = serializers.BooleanField(required=False, default=False,
                                          help_text="The people messages go to (one entity per workspace).")
    primary_key = PrimaryKeyInput()
    attributes = AttributeInput(many=True, required=False)


class EntityUpdateInput(serializers.Serializer):
    label = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    is_profile = serializers.BooleanField(required=False)
    display_attribute = serializers.CharField(
        max_length=63, required=False, allow_blank=True,
        help_text="The attribute that names its records on record pages and pickers (\"\": chosen automatically).")


class AttributeUpdateInput(serializers.Serializer):
    label = serializers.CharField(max_length=200, required=False)
    type = serializers.ChoiceField(choices=AttributeType.choices, required=False)
    required = serializers.BooleanField(required=False)
    enum_values = serializers.ListField(child=serializers.CharField(max_length=200, trim_whitespace=False),
                                        required=False)


class ConfirmInput(serializers.Serializer):
    confirm = serializers.CharField(required=False, help_text="Repeat the key: the data will be deleted.")


class RelationshipOutput(serializers.ModelSerializer):
    source = serializers.CharField(source="source.key")
    attribute = serializers.CharField(source="attribute.key")
    target = serializers.CharField(source="target.key")

    class Meta:
        model = Relationship
        fields = ["id", "source", "attribute", "target", "key", "reverse_key", "kind", "label", "reverse_label",
                  "created_at"]


class RelationshipInput(serializers.Serializer):
    source = serializers.CharField(max_length=63, help_text="The entity holding the link (booking).")
    attribute = serializers.CharField(max_length=63, help_text="Its attribute holding the target's key.")
    target = serializers.CharField(max_length=63, help_text="The entity linked to (customer).")
    key = serializers.CharField(max_length=63, help_text="The link's name from the source (customer).")
    reverse_key = serializers.CharField(max_length=63, help_text="Its name from the target (bookings).")
    kind = serializers.ChoiceField(choices=RelationshipKind.choices, default=RelationshipKind.MANY_TO_ONE)
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    reverse_label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class AddressesSerializer(serializers.Serializer):
    profile = serializers.CharField(read_only=True, allow_null=True,
                                    help_text="The profile dimension whose attributes hold the addresses.")
    addresses = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True),
        help_text=f"Address role -> attribute key of the profile dimension. Roles: "
                  f"{', '.join(AddressRole.values)}. PUT replaces the whole mapping.")


# --- the model document (for the schema; model_import checks the document itself) ----------

class ModelDocAttribute(serializers.Serializer):
    key = serializers.CharField()
    type = serializers.ChoiceField(choices=AttributeType.choices)
    label = serializers.CharField(required=False)
    required = serializers.BooleanField(required=False)
    enum_values = serializers.ListField(child=serializers.CharField(), required=False)


class ModelDocEntity(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    profile = serializers.BooleanField(required=False)
    primary_key = ModelDocAttribute()
    attributes = ModelDocAttribute(many=True, required=False)


class ModelDocRelationship(serializers.Serializer):
    source = serializers.CharField()
    attribute = serializers.CharField()
    target = serializers.CharField()
    key = serializers.CharField()
    reverse_key = serializers.CharField()
    kind = serializers.ChoiceField(choices=RelationshipKind.choices, required=False)
    label = serializers.CharField(required=False)
    reverse_label = serializers.CharField(required=False)


class ModelDocument(serializers.Serializer):
    version = serializers.IntegerField(required=False)
    entities = ModelDocEntity(many=True)
    relationships = ModelDocRelationship(many=True, required=False)
    addresses = serializers.DictField(child=serializers.CharField(allow_null=True), required=False)


class ModelImported(serializers.Serializer):
    created = serializers.DictField(child=serializers.IntegerField(),
                                    help_text="How many entities, attributes and relationships were added.")
    model = ModelDocument()


# --- records -----------------------------------------------------------------------------

class RecordListInput(serializers.Serializer):
    filter = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="attribute:operator:value, repeatable (all must hold). Operators: eq, ne, lt, lte, gt, gte, "
                  "contains, startswith, in (comma-separated values), isnull, notnull.")
    sort = serializers.CharField(required=False, help_text="An attribute key; the primary key by default.")
    order = serializers.ChoiceField(choices=[("asc", "Ascending"), ("desc", "Descending")], default="asc")
    cursor = serializers.CharField(required=False, help_text="next_cursor of the previous page.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=50)

    def validate_filter(self, values: list[str]) -> list[tuple[str, str, str | None]]:
        """`country:eq:NL` -> ("country", "eq", "NL"); the value may hold colons (datetimes).
        Attributes and operators are checked by records_page against the entity."""
        filters = []
        for text in values:
            key, _, rest = text.partition(":")
            op, colon, value = rest.partition(":")
            if not key or not op or (not colon and op not in ("isnull", "notnull")):
                raise serializers.ValidationError(
                    f"{text[:100]!r} is not attribute:operator:value (e.g. country:eq:NL, phone:isnull).")
            filters.append((key, op, value if colon else None))
        return filters


class RecordPage(serializers.Serializer):
    results = serializers.ListField(child=RecordField())
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one.")


class BatchInput(serializers.Serializer):
    records = serializers.ListField(
        child=RecordField(), allow_empty=False, max_length=MAX_BATCH_RECORDS,
        help_text="Records keyed by attribute. `_change`: upsert (default) or delete; a delete needs only "
                  "the primary key. The upserts of a batch carry the same keys; the last record of a key wins.")
    mode = serializers.ChoiceField(choices=IngestionMode.choices, default=IngestionMode.REJECT)
    max_errors = serializers.IntegerField(min_value=0, max_value=INT_MAX, default=100,
                                          help_text="In skip mode: at most this many bad records are skipped.")


class OptionalNullableInteger(serializers.IntegerField):
    """Left out of an error where it does not apply (a CSV line has no record index), null
    where it applies to none (an error about the whole batch): the schema says both."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, **kwargs)

    def get_attribute(self, instance):
        if isinstance(instance, dict) and self.source not in instance:
            raise serializers.SkipField()
        return super().get_attribute(instance)


class IngestionError(serializers.Serializer):
    record = OptionalNullableInteger(help_text="The record's index in the batch (JSON batches); "
                                               "null when the error is about the batch as a whole.")
    line = OptionalNullableInteger(help_text="The file's line (CSV uploads).")
    column = serializers.CharField(allow_blank=True)
    value = serializers.CharField(allow_null=True, allow_blank=True)
    reason = serializers.CharField()


class BatchReport(serializers.ModelSerializer):
    job = serializers.IntegerField(source="pk")
    errors = IngestionError(many=True)

    class Meta:
        model = IngestionJob
        fields = ["job", "status", "rows_seen", "inserted", "updated", "unchanged", "deleted", "rejected",
                  "orphans", "duplicates", "error_count", "errors", "message"]


# --- ingestion jobs --------------------------------------------------------------------------

class IngestionProgress(serializers.Serializer):
    phase = serializers.CharField()
    bytes = serializers.IntegerField()
    percent = serializers.IntegerField()


class IngestionOptions(serializers.Serializer):
    delimiter = serializers.CharField(required=False)
    encoding = serializers.CharField(required=False)
    mapping = serializers.DictField(child=serializers.CharField(allow_null=True), required=False)
    date_formats = serializers.DictField(child=serializers.CharField(), required=False)


class IngestionJobOutput(serializers.ModelSerializer):
    entity = serializers.CharField(source="entity.key")
    created_by = serializers.CharField(source="created_by.email", default=None, allow_null=True)
    progress = serializers.SerializerMethodField()
    errors = IngestionError(many=True)
    options = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    rejected_rows_url = serializers.SerializerMethodField()

    class Meta:
        model = IngestionJob
        fields = ["id", "entity", "source", "status", "mode", "max_errors", "original_name", "size_bytes",
                  "options", "progress", "rows_seen", "inserted", "updated", "unchanged", "deleted", "rejected",
                  "orphans", "duplicates", "error_count", "errors", "message", "created_by", "created_at",
                  "started_at", "finished_at", "url", "rejected_rows_url"]

    @extend_schema_field(IngestionProgress)
    def get_progress(self, obj: IngestionJob) -> dict[str, Any]:
        return IngestionProgress(ingestion_progress(obj)).data

    @extend_schema_field(IngestionOptions)
    def get_options(self, obj: IngestionJob) -> dict[str, Any]:
        return IngestionOptions({k: v for k, v in obj.options.items() if k in IngestionOptions().fields}).data

    def _absolute(self, name: str, obj: IngestionJob) -> str:
        path = reverse(name, kwargs={"workspace_slug": obj.workspace.slug, "pk": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_url(self, obj: IngestionJob) -> str:
        return self._absolute("api-data-ingestionjob-detail", obj)

    def get_rejected_rows_url(self, obj: IngestionJob) -> str | None:
        return self._absolute("api-data-ingestionjob-rejected-rows", obj) if obj.rejected_file else None


class _JsonObject(serializers.JSONField):
    """A JSON object of text values (in a multipart form: the JSON text of one)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if not isinstance(value, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                                  for k, v in value.items()):
            raise serializers.ValidationError("Send a JSON object of text values.")
        return value


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "nullable": True},
                      "description": "CSV column -> attribute key (null or empty: ignore the column)."})
class MappingField(_JsonObject):
    pass


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"},
                      "description": "Attribute key -> date format, e.g. {\"birth_date\": \"DD/MM/YYYY\"}."})
class DateFormatsField(_JsonObject):
    pass


class IngestionUploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="A CSV file with a header line.")
    entity = serializers.CharField(max_length=63, help_text="The entity to load into.")
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    mode = serializers.ChoiceField(choices=IngestionMode.choices, default=IngestionMode.REJECT)
    max_errors = serializers.IntegerField(min_value=0, max_value=INT_MAX, default=100)
    delimiter = serializers.CharField(max_length=3, default=",", trim_whitespace=False,
                                      help_text="One of , ; | or a tab (\\t).")
    encoding = serializers.CharField(max_length=30, default="utf-8",
                                     help_text="utf-8, latin-1 or windows-1252.")
    mapping = MappingField(required=False)
    date_formats = DateFormatsField(required=False)


class IngestionJobListInput(serializers.Serializer):
    entity = serializers.CharField(required=False, help_text="Only the jobs of this entity.")
