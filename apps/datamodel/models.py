"""Metadata of each workspace's relational store: entities (tables), attributes (columns)
and relationships (foreign-key columns with a name for each direction). The metadata and
the DDL of the workspace schema change together, in one transaction (ddl.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.tenants.models import WorkspaceOwned


class AttributeType(models.TextChoices):
    TEXT = "text", "Text"
    INTEGER = "integer", "Integer"
    DECIMAL = "decimal", "Decimal"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    ENUM = "enum", "Enum (allowed values)"
    EMAIL = "email", "Email address"
    PHONE = "phone", "Phone number"


class Entity(WorkspaceOwned):
    """A kind of record (customer, booking, product...): one table in the workspace schema."""

    key = models.CharField(max_length=63)
    label = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_profile = models.BooleanField(default=False, help_text="The people messages go to.")
    # The attribute that names a record on its page ("Anna Jansen", not "Customer 8");
    # empty: a default is guessed (name, first + last name, title, email).
    display_attribute = models.CharField(max_length=63, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="entity_unique_key"),
            models.UniqueConstraint(fields=["workspace"], condition=models.Q(is_profile=True),
                                    name="entity_one_profile_dimension"),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def primary_key(self) -> Attribute:
        return next(a for a in self.attributes.all() if a.is_primary_key)


class Attribute(WorkspaceOwned):
    """A typed column of an entity."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="attributes")
    key = models.CharField(max_length=63)
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=AttributeType.choices)
    is_primary_key = models.BooleanField(default=False)
    required = models.BooleanField(default=False)
    enum_values = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entity", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "entity", "key"], name="attribute_unique_key"),
            models.UniqueConstraint(fields=["workspace", "entity"], condition=models.Q(is_primary_key=True),
                                    name="attribute_one_primary_key"),
        ]

    def __str__(self) -> str:
        return f"{self.entity.key}.{self.key}"


class RelationshipKind(models.TextChoices):
    MANY_TO_ONE = "many_to_one", "Many to one"
    ONE_TO_ONE = "one_to_one", "One to one"


class Relationship(WorkspaceOwned):
    """`source.<key>` -> target (e.g. booking.customer), through the source's `attribute`
    holding the target's primary key; `target.<reverse_key>` lists the sources
    (customer.bookings). Orphan values are allowed (loaded and counted), so there is no
    FOREIGN KEY constraint, but the column is indexed."""

    source = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="outgoing")
    target = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="incoming")
    attribute = models.OneToOneField(Attribute, on_delete=models.CASCADE, related_name="relationship")
    key = models.CharField(max_length=63)
    reverse_key = models.CharField(max_length=63)
    kind = models.CharField(max_length=20, choices=RelationshipKind.choices, default=RelationshipKind.MANY_TO_ONE)
    label = models.CharField(max_length=200, blank=True)
    reverse_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "key"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "source", "key"], name="relationship_unique_key"),
            models.UniqueConstraint(fields=["workspace", "target", "reverse_key"], name="relationship_unique_reverse"),
        ]

    def __str__(self) -> str:
        return f"{self.source.key}.{self.key} -> {self.target.key} ({self.target.key}.{self.reverse_key})"


class AddressRole(models.TextChoices):
    EMAIL = "email", "Email address"
    PHONE = "phone", "Mobile phone (SMS)"
    FIRST_NAME = "first_name", "First name"
    LAST_NAME = "last_name", "Last name"
    FULL_NAME = "full_name", "Full name"
    ADDRESS_LINE1 = "address_line1", "Address line 1"
    ADDRESS_LINE2 = "address_line2", "Address line 2"
    POSTAL_CODE = "postal_code", "Postal code"
    CITY = "city", "City"
    REGION = "region", "Region / state"
    COUNTRY = "country", "Country"
    LANGUAGE = "language", "Language"
    TIME_ZONE = "timezone", "Time zone"


class AddressMapping(WorkspaceOwned):
    """Which attribute of the profile dimension holds each channel address part."""

    role = models.CharField(max_length=30, choices=AddressRole.choices)
    attribute = models.ForeignKey(Attribute, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "role"], name="addressmapping_unique_role")]

    def __str__(self) -> str:
        return f"{self.role} -> {self.attribute}"


class IngestionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class IngestionMode(models.TextChoices):
    REJECT = "reject", "Reject the file on any error"
    SKIP = "skip", "Skip bad rows (up to a limit)"


class IngestionJob(WorkspaceOwned):
    """One load of a CSV file (or a JSON batch) into an entity, with its report."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="ingestion_jobs")
    source = models.CharField(max_length=20, default="csv")  # csv | json | demo
    status = models.CharField(max_length=20, choices=IngestionStatus.choices, default=IngestionStatus.QUEUED)
    mode = models.CharField(max_length=10, choices=IngestionMode.choices, default=IngestionMode.REJECT)
    max_errors = models.PositiveIntegerField(default=100)
    file = models.FileField(upload_to="ingestion/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    options = models.JSONField(default=dict, blank=True)  # delimiter, encoding, mapping, date_formats
    phase = models.CharField(max_length=30, blank=True)
    progress_bytes = models.BigIntegerField(default=0)
    rows_seen = models.BigIntegerField(default=0)
    inserted = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    unchanged = models.BigIntegerField(default=0)
    deleted = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    orphans = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # first errors: {line, column, value, reason}
    error_count = models.BigIntegerField(default=0)
    message = models.TextField(blank=True)
    rejected_file = models.FileField(upload_to="ingestion/rejected/%Y/%m/", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="ingest_ws_recent")]

    def __str__(self) -> str:
        return f"{self.entity.key} load #{self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (IngestionStatus.DONE, IngestionStatus.REJECTED, IngestionStatus.FAILED)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        if not self.size_bytes:
            return 0
        return min(99, int(self.progress_bytes * 100 / self.size_bytes))
