"""Campaigns: a versioned DAG of activities; runs execute one version, activity by
activity, each activity's output a working table in the workspace schema."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.tenants.models import WorkspaceOwned

from .scheduling import DEFAULT_GRACE, describe, parse_spec


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"
    CLOSED = "closed", "Closed"
    ARCHIVED = "archived", "Archived"


class Campaign(WorkspaceOwned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    # A live run stops before its first channel activity until an approver confirms it.
    confirm_before_send = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="campaign_unique_name")]

    def __str__(self) -> str:
        return self.name


class CampaignVersion(WorkspaceOwned):
    """A definition: {"nodes": [{id, type, settings}], "edges": [{from, outlet, to}]}.
    Published versions are immutable; editing a published campaign makes a new draft."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField(default=dict)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "-number"]
        constraints = [models.UniqueConstraint(fields=["workspace", "campaign", "number"],
                                               name="campaignversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.campaign} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class RunMode(models.TextChoices):
    TEST = "test", "Test (sends nothing)"
    LIVE = "live", "Live"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped"
    SKIPPED = "skipped", "Skipped"  # a launch time missed beyond the grace period


class Run(WorkspaceOwned):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(CampaignVersion, on_delete=models.CASCADE, related_name="runs")
    mode = models.CharField(max_length=10, choices=RunMode.choices, default=RunMode.TEST)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=20, default="manual")  # manual | schedule | api
    scheduled_for = models.DateTimeField(null=True, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # confirm_before_send: who let the run's channel activities send, and when.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    tables_purged_at = models.DateTimeField(null=True, blank=True)
    # The address the run was started on (apps.core.siteurl): its messages' links use it
    # when SITE_URL is unset.
    site_url = models.CharField(max_length=200, blank=True, default="")
    # A test run that goes through its Waits at once (each says until when it would have
    # waited); live runs always wait.
    skip_waits = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A double trigger (two beats, a retried task) finds the run already there.
            models.UniqueConstraint(fields=["workspace", "campaign", "scheduled_for"],
                                    condition=models.Q(scheduled_for__isnull=False), name="run_unique_schedule"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} run #{self.pk} ({self.mode}, {self.status})"


class ActivityStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SLEEPING = "sleeping", "Waiting for its time"  # a Wait: woken by the timer task at wake_at
    # A channel activity of a live run of a confirm_before_send campaign, until confirmed.
    AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting confirmation"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class ActivityRun(WorkspaceOwned):
    """One activity of one run. Its outlets are working tables; `outlets` maps each
    outlet name to {"table": name, "entity": key, "count": rows}."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="activities")
    node_id = models.CharField(max_length=40)
    type = models.CharField(max_length=40)
    status = models.CharField(max_length=30, choices=ActivityStatus.choices, default=ActivityStatus.WAITING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When it was last dispatched (queued): a queued activity nobody took for a while is
    # dispatched again, judged by this, not by its run's age.
    queued_at = models.DateTimeField(null=True, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_in = models.BigIntegerField(null=True, blank=True)
    rows_out = models.BigIntegerField(null=True, blank=True)
    outlets = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)  # activity-specific figures (exclusions...)
    log = models.JSONField(default=list, blank=True)  # [{at, message, sql?, ms?}]
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "run", "node_id"], name="activityrun_unique_node")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.node_id} ({self.status})"


class CampaignSchedule(WorkspaceOwned):
    """A campaign's schedule: `spec` holds the kind and its fields (see `scheduling.parse_spec`)."""

    campaign = models.OneToOneField("campaigns.Campaign", on_delete=models.CASCADE, related_name="schedule")
    spec = models.JSONField(default=dict)
    grace_minutes = models.PositiveIntegerField(default=int(DEFAULT_GRACE.total_seconds() // 60))
    periodic_task = models.OneToOneField("django_celery_beat.PeriodicTask", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.campaign}: {describe(parse_spec(self.spec, self.workspace.time_zone))}"


class ApprovalStatus(models.TextChoices):
    OPEN = "open", "Awaiting approval"
    APPROVED = "approved", "Approved"
    SENT_BACK = "sent_back", "Sent back"


class ApprovalRequest(WorkspaceOwned):
    """A marketer's request that an approver publish the campaign's latest draft. The
    definition is kept as it was when asked, so an approver never publishes an edit made
    after the request without seeing it (approving then refuses: request again)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="approval_requests")
    version = models.ForeignKey(CampaignVersion, on_delete=models.CASCADE, related_name="approval_requests")
    definition = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.OPEN)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)  # why it was sent back

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open request per campaign: a second "request approval" is refused.
            models.UniqueConstraint(fields=["workspace", "campaign"], condition=models.Q(status="open"),
                                    name="approvalrequest_one_open"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} v{self.version.number}: {self.get_status_display().lower()}"


class ApprovalEventKind(models.TextChoices):
    REQUESTED = "requested", "requested approval"
    COMMENT = "comment", "commented"
    APPROVED = "approved", "approved and published"
    SENT_BACK = "sent_back", "sent it back"


class ApprovalEvent(WorkspaceOwned):
    """One entry of a request's thread: the request itself, comments, the decision."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=ApprovalEventKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.kind}"
