"""Rollups: the counts reports read, kept as the ledger changes (never by counting it).

PostgreSQL keeps them, in statement-level triggers over the message ledger and its
events (migration 0001): every path that sends, fails or records an event is counted,
whatever code runs it, in the same transaction, set-based (one INSERT ... ON CONFLICT per
statement, not per row). Reports sum these small tables."""

from django.conf import settings
from django.db import models

from apps.tenants.models import WorkspaceOwned


class Metric(models.TextChoices):
    # Message state changes (channels_message UPDATEs), bucketed by sent_at or by now().
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # also "failed:<reason>" per reason
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    # Events (channels_messageevent INSERTs), bucketed by the event's time; "<type>_unique"
    # counts a message's first event of that type, "<type>_machine" the ones flagged as
    # machine opens/clicks (privacy proxies, security scanners).
    DELIVERED = "delivered", "Delivered"
    BOUNCED = "bounced", "Bounced (hard)"
    SOFT_BOUNCED = "soft_bounced", "Bounced (soft)"
    COMPLAINED = "complained", "Complaints"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    REJECTED = "rejected", "Rejected by the provider"
    OPEN = "open", "Opens"
    CLICK = "click", "Clicks"


class DeliveryRollup(WorkspaceOwned):
    """Per delivery x hour x metric: how many."""

    delivery = models.ForeignKey("channels.Delivery", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    hour = models.DateTimeField()
    metric = models.CharField(max_length=60)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["delivery", "hour", "metric"], name="rollup_delivery_hour_metric")]
        indexes = [models.Index(fields=["workspace", "hour"], name="rollup_workspace_hour")]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.hour:%Y-%m-%d %H}h {self.metric}={self.n}"


class LinkRollup(WorkspaceOwned):
    """Clicks per link of a delivery (the URL without its query string and fragment, so a
    personalized link is one line and no personal data is kept here)."""

    delivery = models.ForeignKey("channels.Delivery", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    url = models.TextField()
    total = models.BigIntegerField(default=0)
    uniq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["delivery", "url"], name="linkrollup_delivery_url")]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.url}: {self.total}"


class DomainRollup(WorkspaceOwned):
    """Per delivery x recipient domain (the mailbox provider) x metric."""

    delivery = models.ForeignKey("channels.Delivery", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    domain = models.CharField(max_length=253)
    metric = models.CharField(max_length=60)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["delivery", "domain", "metric"],
                                               name="domainrollup_delivery_domain_metric")]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.domain} {self.metric}={self.n}"


class RollupDelta(models.Model):
    """What the ledger triggers append (insert-only, so concurrent senders never wait on
    each other's counter rows); `reports_compact()` folds it into the rollups above every
    minute (beat) and reads add what is not folded yet. kind "hour": key is the metric;
    "domain": key is the domain, metric the metric; "link": key is the URL."""

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey("tenants.Workspace", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    delivery = models.ForeignKey("channels.Delivery", on_delete=models.CASCADE, related_name="+", db_constraint=False,
                                 db_index=False)
    kind = models.CharField(max_length=8)
    hour = models.DateTimeField(null=True)
    key = models.TextField()
    metric = models.CharField(max_length=60, blank=True)
    n = models.BigIntegerField(default=0)
    uniq = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["delivery"], name="rollupdelta_delivery")]

    def __str__(self) -> str:
        return f"{self.kind} {self.delivery_id} {self.key} {self.metric} +{self.n}"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class ReportSubscription(WorkspaceOwned):
    """A campaign's report emailed every week (with its PDF) to a few addresses, at an hour
    of the workspace's time zone (beat looks every hour: reports.tasks.weekly_reports_send)."""

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    recipients = models.JSONField(default=list)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    hour = models.PositiveSmallIntegerField(default=8)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.campaign_id} weekly to {', '.join(self.recipients)}"
