"""Consent as a ledger, suppression, and the business rules that protect recipients:
frequency caps and quiet hours. Enforced in SQL when messages are created and again
just before each one leaves (apps/consent/enforcement.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.tenants.models import WorkspaceOwned

CHANNELS = [("email", "Email"), ("sms", "SMS"), ("push", "Push"), ("direct_mail", "Direct mail")]


class Policy(models.TextChoices):
    OPT_IN = "opt_in", "Opt-in required (nothing without a recorded yes)"
    OPT_OUT = "opt_out", "Opt-out (sent unless a recorded no)"


class Topic(WorkspaceOwned):
    """A subscription topic on one channel (newsletter, offers, service updates...)."""

    key = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, choices=CHANNELS)
    policy = models.CharField(max_length=10, choices=Policy.choices, default=Policy.OPT_IN)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["channel", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "channel", "key"], name="topic_unique_key")]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"


class Source(models.TextChoices):
    IMPORT = "import", "Import"
    API = "api", "API"
    PREFERENCE_CENTER = "preference_center", "Preference center"
    UNSUBSCRIBE_LINK = "unsubscribe_link", "Unsubscribe link"
    INBOUND_SMS = "inbound_sms", "Inbound SMS keyword"
    ADMIN = "admin", "Admin"
    ERASURE = "erasure", "Data subject erasure"


class ConsentEvent(models.Model):
    """Append-only: nothing deletes a row here and no answer is ever rewritten. The one
    change is a data subject's erasure, which replaces the profile key with a pseudonym
    and clears IP and proof (the history is kept, unlinked from the person)."""

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey("tenants.Workspace", on_delete=models.CASCADE, related_name="+")
    profile_key = models.TextField()
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="events")
    channel = models.CharField(max_length=20, choices=CHANNELS)
    granted = models.BooleanField()
    source = models.CharField(max_length=30, choices=Source.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField()  # when the person said it (an import may carry older dates)
    recorded_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    reference = models.CharField(max_length=300, blank=True)  # provider reference, file and row...
    proof = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["workspace", "profile_key", "-at"], name="consentevent_profile")]

    def __str__(self) -> str:
        return f"{self.profile_key} {'granted' if self.granted else 'withdrew'} {self.topic_id}"


class ConsentState(models.Model):
    """The current answer per (topic, profile), kept in step with the ledger in the same
    transaction; the exclusion joins read it."""

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey("tenants.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False)
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="states", db_index=False)
    profile_key = models.TextField()
    granted = models.BooleanField()
    at = models.DateTimeField()
    event = models.ForeignKey(ConsentEvent, on_delete=models.PROTECT, related_name="+", db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "profile_key"], name="consentstate_unique")]
        indexes = [models.Index(fields=["workspace", "profile_key"], name="consentstate_profile")]

    def __str__(self) -> str:
        return f"{self.profile_key}: {self.granted}"


class SuppressionKind(models.TextChoices):
    EMAIL = "email", "Email address"
    DOMAIN = "domain", "Email domain"
    PHONE = "phone", "Phone number"


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SOFT_BOUNCES = "soft_bounces", "Too many soft bounces"
    COMPLAINT = "complaint", "Complaint"
    MANUAL = "manual", "Manual"
    INVALID = "invalid", "Invalid"
    ERASED = "erased", "Erased profile (hashed)"


class Suppression(WorkspaceOwned):
    """An address nothing is sent to (until `expires_at`, when set). Values are stored
    normalized: lower-case emails and domains, digits-and-plus phones; an erased
    profile's address is kept only as a SHA-256 (`hashed`)."""

    kind = models.CharField(max_length=10, choices=SuppressionKind.choices)
    value = models.CharField(max_length=320)
    hashed = models.BooleanField(default=False)
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    note = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "kind", "value"], name="suppression_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} ({self.reason})"


class SoftBounce(WorkspaceOwned):
    """Soft bounces counted per address; at the workspace threshold it is suppressed."""

    address = models.CharField(max_length=320)
    count = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "address"], name="softbounce_unique")]


class Period(models.TextChoices):
    DAY = "day", "per day"
    WEEK = "week", "per week"
    MONTH = "month", "per month"


class RuleSet(WorkspaceOwned):
    """Frequency caps a channel activity chooses."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="ruleset_unique_name")]

    def __str__(self) -> str:
        return self.name


class FrequencyCap(WorkspaceOwned):
    """At most `limit` marketing messages per profile on `channel` ("" = all channels)
    per period (calendar-free: the last 24 h, 7 days, 30 days)."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="caps")
    channel = models.CharField(max_length=20, choices=CHANNELS, blank=True)
    limit = models.PositiveIntegerField()
    period = models.CharField(max_length=10, choices=Period.choices)

    def __str__(self) -> str:
        return f"{self.limit} {self.channel or 'messages'} {self.get_period_display()}"


class QuietHours(WorkspaceOwned):
    """Messages on `channel` leave only between `allowed_from` and `allowed_until` in the
    recipient's time zone (their time zone attribute, else the workspace's); a message
    that would land outside is deferred to the next allowed time."""

    channel = models.CharField(max_length=20, choices=CHANNELS)
    allowed_from = models.TimeField()
    allowed_until = models.TimeField()

    class Meta:
        verbose_name = "quiet hours"
        verbose_name_plural = "quiet hours"
        constraints = [models.UniqueConstraint(fields=["workspace", "channel"], name="quiethours_unique_channel")]

    def __str__(self) -> str:
        return f"{self.channel} {self.allowed_from}-{self.allowed_until}"


class WorkspacePolicy(WorkspaceOwned):
    """Per-workspace bounce, unsubscribe-link and inbound SMS settings. (The four-eyes
    rule the policy page also edits is the workspace's: tenants.Workspace.four_eyes.)"""

    soft_bounce_threshold = models.PositiveSmallIntegerField(default=5)
    unsubscribe_link_days = models.PositiveSmallIntegerField(default=90)
    # The inbound SMS URL's secret is derived from SECRET_KEY and this generation
    # (apps/consent/inbound.py); rotating bumps it. The replaced one may stay valid for a
    # short grace period while the provider's settings are updated.
    inbound_sms_generation = models.PositiveIntegerField(default=0)
    inbound_sms_previous_generation = models.PositiveIntegerField(null=True, blank=True)
    inbound_sms_previous_valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "workspace policies"
        constraints = [models.UniqueConstraint(fields=["workspace"], name="workspacepolicy_unique")]
