"""Messages: per-workspace channel configuration, reusable content templates, and the
delivery ledger. A channel activity in a live run creates one Delivery (a snapshot of
its content and settings) and its Message rows with one INSERT ... SELECT; sending
tasks claim queued messages in chunks and move each one queued -> sending -> sent /
failed / deferred under a state guard."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models

from apps.core.validators import one_line
from apps.tenants.models import WorkspaceOwned

from . import secrets


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push"
    DIRECT_MAIL = "direct_mail", "Direct mail"


class EmailBackendKind(models.TextChoices):
    SMTP = "smtp", "SMTP server"
    ANYMAIL = "anymail", "Email service (django-anymail)"


class SmsBackendKind(models.TextChoices):
    TWILIO = "twilio", "Twilio"
    VONAGE = "vonage", "Vonage"


BACKEND_CHOICES = EmailBackendKind.choices + SmsBackendKind.choices


class ChannelConfig(WorkspaceOwned):
    """How a workspace sends on one channel: the provider and its connection settings,
    throttling, the execution window and retries."""

    channel = models.CharField(max_length=20, choices=ChannelKind.choices)
    backend = models.CharField(max_length=20, choices=BACKEND_CHOICES, default=EmailBackendKind.SMTP)
    # SMTP: host, port, username, use_tls, use_ssl, timeout. Anymail: esp (e.g. "mailgun"),
    # and its non-secret options (sender_domain, api_url...). SMS (twilio, vonage): see
    # apps/channels/smsconfig.py.
    options = models.JSONField(default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True)  # SMTP password, ESP API key, SMS auth token / API secret
    # SMS: the key the provider signs its webhooks with when it is not the secret above
    # (Vonage's signature secret); empty where the provider signs with the auth token.
    signing_secret_encrypted = models.TextField(blank=True)
    rate_per_second = models.FloatField(null=True, blank=True, help_text="empty: as fast as the provider takes")
    window_hours = models.PositiveIntegerField(default=12, help_text="messages not sent by then are expired")
    max_attempts = models.PositiveIntegerField(default=5)
    chunk_size = models.PositiveIntegerField(default=200)
    parallel_tasks = models.PositiveIntegerField(default=2, help_text="sending tasks per delivery")
    # Sender defaults for email; return address for direct mail.
    from_email = models.EmailField(blank=True)
    from_name = models.CharField(max_length=200, blank=True, validators=[one_line])
    reply_to = models.EmailField(blank=True)
    tracking_domain = models.CharField(max_length=200, blank=True,
                                       help_text="public base URL for tracking links, e.g. https://t.example.com")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "channel"], name="channelconfig_unique_channel")]

    def __str__(self) -> str:
        return f"{self.workspace} {self.channel}"

    @property
    def secret(self) -> str:
        return secrets.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secrets.encrypt(value)

    @property
    def signing_secret(self) -> str:
        return secrets.decrypt(self.signing_secret_encrypted) if self.signing_secret_encrypted else ""

    @signing_secret.setter
    def signing_secret(self, value: str) -> None:
        self.signing_secret_encrypted = secrets.encrypt(value) if value else ""

    @property
    def secret_hint(self) -> str:
        return secrets.hint(self.secret) if self.secret_encrypted else ""


class ContentTemplate(WorkspaceOwned):
    """Reusable content for one channel. `content` holds, for email: from_name,
    from_email, reply_to, subject, preheader, html, text (empty: generated from the
    HTML); for direct mail: html, css, page_size, return_address."""

    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, choices=ChannelKind.choices)
    entity_key = models.CharField(max_length=63, blank=True,
                                  help_text="the target entity the template is written for (checked names)")
    content = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="contenttemplate_unique_name")]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    PAUSED = "paused", "Paused"  # its queued messages are held, not claimed, until resumed
    DONE = "done", "Done"
    STOPPED = "stopped", "Stopped"
    EXPIRED = "expired", "Window ended"


class Delivery(WorkspaceOwned):
    """The messages one channel activity of one live run sends (or one proof send)."""

    channel = models.CharField(max_length=20, choices=ChannelKind.choices)
    name = models.CharField(max_length=300)
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="deliveries")
    run = models.ForeignKey("campaigns.Run", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="deliveries")
    node_id = models.CharField(max_length=40, blank=True)
    proof = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.SENDING)
    content = models.JSONField(default=dict)  # snapshot: what was sent is what was approved
    options = models.JSONField(default=dict)  # snapshot: per_row, track_opens, track_clicks, entities, table...
    counts = models.JSONField(default=dict, blank=True)  # {"excluded": {reason: n}, "total": n} at creation
    total = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # a sending task was alive then
    # A provider that cannot be reached pauses the whole delivery (one event, not one failed
    # attempt per message): since when, how many connection failures in a row, the last
    # error, and when sending resumes (exponential backoff, capped).
    outage_since = models.DateTimeField(null=True, blank=True)
    outage_failures = models.PositiveIntegerField(default=0)
    outage_error = models.TextField(blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files = models.JSONField(default=list, blank=True)  # direct mail: [{"name", "path", "kind", "letters"}]

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            # A retried channel activity finds its delivery instead of making a second one.
            models.UniqueConstraint(fields=["workspace", "run", "node_id"], condition=models.Q(run__isnull=False),
                                    name="delivery_unique_activity"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def outage_note(self) -> str:
        """What a marketer sees while the provider is down ("" when it is not)."""
        if self.outage_since is None:
            return ""
        note = (f"Provider unreachable since {self.outage_since:%Y-%m-%d %H:%M:%S} UTC "
                f"({self.outage_failures} failed connection{'s' if self.outage_failures != 1 else ''}: "
                f"{self.outage_error})")
        if self.paused_until is not None:
            note += f", retrying at {self.paused_until:%Y-%m-%d %H:%M:%S} UTC"
        return note + "."


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DEFERRED = "deferred", "Deferred (will retry)"
    FAILED = "failed", "Failed"
    EXCLUDED = "excluded", "Excluded"
    EXPIRED = "expired", "Expired (window ended)"
    CANCELLED = "cancelled", "Cancelled"


class Message(models.Model):
    """One message of a delivery (rows are written in bulk by SQL, never one by one).
    `profile_key` is the recipient, `target_key` the row the message is about (the
    booking in one-email-per-booking; the profile otherwise)."""

    id = models.BigAutoField(primary_key=True)
    # No database foreign keys on the ledger's hot table: rows are written only by our
    # INSERT ... SELECT for an existing delivery, and the per-row RI triggers cost more
    # than the rest of the insert (deleting a delivery deletes its messages, as Django does).
    workspace = models.ForeignKey("tenants.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False,
                                  db_constraint=False)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="messages", db_index=False,
                                 db_constraint=False)
    profile_key = models.TextField()
    target_key = models.TextField()
    address = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    reason = models.CharField(max_length=40, blank=True)  # exclusion reason or error code
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The sending task that holds the message while it is `sending`: the key of a
    # PostgreSQL session advisory lock that task holds (apps/channels/claims.py).
    claim_token = models.BigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    # SMS: the segments the sent text took (what the provider bills), for the reports' cost.
    # Not a PositiveSmallIntegerField: its CHECK would make adding the column scan the ledger.
    segments = models.SmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        # Cheap to maintain while a million rows are inserted at once: the pending index
        # grows at its right edge (one delivery, rising ids), BRIN keeps one entry per
        # block range (a delivery's rows are contiguous), and the index of sent messages
        # is filled as they are sent, not at creation.
        indexes = [
            BrinIndex(fields=["delivery"], name="message_delivery_brin", pages_per_range=32),
            # What sending tasks claim: queued or deferred work, in id order.
            models.Index(fields=["delivery", "id"], name="message_pending",
                         condition=models.Q(status__in=["queued", "deferred", "sending"])),
            # A profile's sent messages, and those being sent (the frequency caps count
            # both just before sending): data subject requests, frequency caps.
            models.Index(fields=["workspace", "profile_key"], name="message_sent_profile",
                         condition=models.Q(status__in=["sent", "sending"])),
        ]

    def __str__(self) -> str:
        return f"message {self.pk} ({self.status})"


class EventType(models.TextChoices):
    OPEN = "open", "Opened"
    CLICK = "click", "Clicked"
    DELIVERED = "delivered", "Delivered"
    BOUNCED = "bounced", "Bounced"
    SOFT_BOUNCED = "soft_bounced", "Soft bounce"
    COMPLAINED = "complained", "Complaint"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    REJECTED = "rejected", "Rejected by the provider"


class MessageEvent(models.Model):
    """Something that happened to a sent message: open, click, delivery report..."""

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey("tenants.Workspace", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=20, choices=EventType.choices)
    at = models.DateTimeField(auto_now_add=True)
    data = models.JSONField(default=dict, blank=True)  # url, user agent, provider payload...

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["message", "type"], name="messageevent_message_type")]

    def __str__(self) -> str:
        return f"{self.type} on {self.message_id}"


class SenderDomainStatus(models.TextChoices):
    PENDING = "pending", "Waiting for confirmation"
    VERIFIED = "verified", "Verified"


class SenderDomain(WorkspaceOwned):
    """A domain the workspace may send email from through the platform's own server, once
    someone who reads a role mailbox at it (postmaster@, hostmaster@...) has followed the
    confirmation link mailed there. Workspaces with their own SMTP server or email service
    are not bound by these."""

    domain = models.CharField(max_length=253)  # lowercase, IDNA (xn--) form
    status = models.CharField(max_length=20, choices=SenderDomainStatus.choices, default=SenderDomainStatus.PENDING)
    confirm_address = models.EmailField(blank=True, help_text="where the last confirmation link was sent")
    # Only a hash of the link's token is kept: a database reader cannot confirm a domain.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    link_sent_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_via = models.CharField(max_length=10, blank=True, help_text="link, dns or admin")
    # The other way to verify: a TXT record "orchestrate-verification=<dns_token>" at the domain.
    dns_token = models.CharField(max_length=64, blank=True)
    dns_checked_at = models.DateTimeField(null=True, blank=True)
    dns_result = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        constraints = [models.UniqueConstraint(fields=["workspace", "domain"], name="senderdomain_unique_domain")]

    def __str__(self) -> str:
        return self.domain

    @property
    def dns_record(self) -> str:
        return f"orchestrate-verification={self.dns_token}" if self.dns_token else ""


class PushPlatform(models.TextChoices):
    WEB = "web", "Web Push"
    ANDROID = "android", "Android (FCM)"
    IOS = "ios", "iOS (APNs)"


class PushSubscription(WorkspaceOwned):
    """One device (or browser) that may receive push messages for a profile. `token` is the
    FCM registration token, the APNs device token, or the Web Push endpoint URL; a Web Push
    subscription also carries the browser's keys (p256dh, auth) that encrypt the payload.
    A provider that answers "unregistered" deactivates it at once: it is kept (with its
    reason) so that a report can say why a profile stopped getting push."""

    profile_key = models.TextField()
    platform = models.CharField(max_length=10, choices=PushPlatform.choices)
    token = models.TextField()
    keys = models.JSONField(default=dict, blank=True)  # Web Push: {"p256dh": ..., "auth": ...}
    app_id = models.CharField(max_length=200, blank=True,
                              help_text="the app's bundle id (APNs topic) or Firebase app; empty for Web Push")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "platform", "token"],
                                               name="pushsubscription_unique_token")]
        indexes = [models.Index(fields=["workspace", "profile_key"], name="pushsubscription_profile",
                                condition=models.Q(active=True))]

    def __str__(self) -> str:
        return f"{self.platform} device of {self.profile_key}"


class ShortLink(WorkspaceOwned):
    """A link of an SMS (or a push notification's URL) behind the tracking domain's short
    redirect /s/<token>: one row per distinct URL of a delivery, not per message. The token
    names the link and the message, under a MAC (tracking.short_token), so a click is the
    message's and the target is only ever this row's URL (no open redirect)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="+", db_index=False)
    digest = models.CharField(max_length=64)  # sha256 of the URL, hex: what makes a link unique in its delivery
    url = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["delivery", "digest"], name="shortlink_unique_url")]

    def __str__(self) -> str:
        return self.url[:80]


class SmsReceipt(models.Model):
    """A provider's delivery receipt (status callback) for one SMS, kept once its signature
    was verified and it named a message of the workspace. `settled_at` empty: it arrived
    before the sending task had recorded the provider's message id; the task settles it
    when its chunk is recorded (apps/channels/sms_receipts.py)."""

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey("tenants.Workspace", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="sms_receipts")
    provider = models.CharField(max_length=20)
    provider_message_id = models.CharField(max_length=200)
    recipient = models.CharField(max_length=40)
    status = models.CharField(max_length=40)  # the provider's word: delivered, undelivered, failed, sent...
    error_code = models.CharField(max_length=20, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, blank=True)  # the event it became, "recorded", or "unmatched"

    class Meta:
        verbose_name = "SMS receipt"
        ordering = ["id"]
        indexes = [models.Index(fields=["message"], name="smsreceipt_unsettled",
                                condition=models.Q(settled_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.provider} {self.status} for {self.message_id}"


class MediaImage(WorkspaceOwned):
    """An image a workspace uploaded for its emails (apps/channels/media.py): stored as we
    re-encoded it, served publicly at /m/<token>.<ext> (mail apps fetch it without a
    login), the token unguessable so that one client's images cannot be listed."""

    token = models.CharField(max_length=40, unique=True)
    path = models.CharField(max_length=300)  # the name in the default storage
    content_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()  # bytes as stored
    original_name = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name or self.token

    @property
    def extension(self) -> str:
        return "jpg" if self.content_type == "image/jpeg" else "png"
