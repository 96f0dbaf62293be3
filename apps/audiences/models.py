"""Saved audiences: a rule re-evaluated when used, an uploaded list of keys, or a frozen
snapshot. Lists and snapshots are tables of keys in the workspace schema."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.datamodel.models import Entity
from apps.tenants.models import WorkspaceOwned


class AudienceOrigin(models.TextChoices):
    RULE = "rule", "Rule"
    UPLOAD = "upload", "Uploaded list"
    SNAPSHOT = "snapshot", "Snapshot"


class AudienceStatus(models.TextChoices):
    READY = "ready", "Ready"
    BUILDING = "building", "Building"
    FAILED = "failed", "Failed"


class Audience(WorkspaceOwned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="audiences")
    origin = models.CharField(max_length=20, choices=AudienceOrigin.choices, default=AudienceOrigin.RULE)
    # rule audiences: {"entity": key, "rule": {...}, "dimension": [link, ...]}; snapshots keep
    # the definition they were taken from, for the record
    definition = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=AudienceStatus.choices, default=AudienceStatus.READY)
    status_message = models.TextField(blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_evaluation_ms = models.IntegerField(null=True, blank=True)
    source_audience = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="snapshots")
    upload_report = models.JSONField(default=dict, blank=True)  # uploaded, matched, unmatched, sample
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="audience_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_list(self) -> bool:
        """Uploads and snapshots are stored lists of keys."""
        return self.origin in (AudienceOrigin.UPLOAD, AudienceOrigin.SNAPSHOT)

    @property
    def key_table(self) -> str:
        return f"_aud_{self.pk}"
