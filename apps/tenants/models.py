import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower

from apps.core.validators import one_line

from .branding import validate_hex_color, validate_public_url
from .roles import PERM_ADMIN, PERM_EDIT, PERM_PUBLISH, PERM_VIEW, WorkspaceRole

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/Amsterdam).")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email):
        # Emails are stored lowercase; people type them in any case.
        return self.get(email__iexact=email)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in. Identified by email; no username."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


class Organization(models.Model):
    """An agency. It owns client workspaces."""

    name = models.CharField(max_length=200, validators=[one_line])  # shown in email subjects
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    # The agency's logo on the reports it sends its clients (tenants.branding redraws it).
    brand_logo = models.FileField(upload_to="brand/organizations/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrganizationRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    """A user's place in an organization. Owners and admins reach every workspace of it;
    members reach the workspaces where they hold a workspace role."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=OrganizationRole.choices, default=OrganizationRole.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Workspace(models.Model):
    """A client of an agency: its own data, audiences, campaigns and channels."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="workspaces")
    name = models.CharField(max_length=200, validators=[one_line])  # shown in email subjects
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    default_language = models.CharField(max_length=16, default="en")
    sender_name = models.CharField(max_length=200, blank=True, validators=[one_line])
    sender_email = models.EmailField(blank=True)
    reply_to_email = models.EmailField(blank=True)
    # Campaign runs: working tables older than this are purged; a launch time missed by
    # more than the grace period (beat was down) is skipped, not started late.
    working_tables_days = models.PositiveSmallIntegerField(default=7)
    schedule_grace_minutes = models.PositiveIntegerField(default=30)
    # Governance: with four eyes on, whoever publishes a campaign version must not be its
    # last editor (campaigns enforces it; the consent section's policy page edits it).
    four_eyes = models.BooleanField(default=False, help_text="the person who publishes must not be the last editor")
    # Branding: the client's logo and colour on its public pages (unsubscribe, preferences)
    # and reports; its own address for the links of its messages (a CNAME to this platform).
    brand_logo = models.FileField(upload_to="brand/workspaces/", blank=True)
    brand_color = models.CharField(max_length=7, blank=True, validators=[validate_hex_color])
    public_url = models.CharField(max_length=200, blank=True, validators=[validate_public_url],
                                  help_text="e.g. https://links.client.com: tracking, unsubscribe and preference links")
    created_at = models.DateTimeField(auto_now_add=True)
    # Archived: read-only, schedules paused, nothing sent (see tenants.lifecycle).
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organization__name", "name"]
        # Workspace roles are these object permissions (see roles.py).
        permissions = [
            (PERM_VIEW, "View the workspace's content"),
            (PERM_EDIT, "Edit data, audiences and campaigns"),
            (PERM_PUBLISH, "Publish and send campaigns"),
            (PERM_ADMIN, "Administer settings, members, channels and API keys"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class WorkspaceOwned(models.Model):
    """Base for every tenant-owned row: a non-null workspace, always."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class ApiKey(WorkspaceOwned):
    """A partner's key to one workspace. Only a SHA-256 of the secret is stored; the
    prefix is shown so people can tell keys apart."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=20, choices=WorkspaceRole.choices, default=WorkspaceRole.MARKETER)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], condition=models.Q(revoked_at__isnull=True),
                                    name="apikey_unique_active_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Invitation(WorkspaceOwned):
    """An invitation by email for someone who has no account yet."""

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=WorkspaceRole.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), "workspace",
                                    condition=models.Q(accepted_at__isnull=True, cancelled_at__isnull=True),
                                    name="invitation_unique_open_email"),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.workspace} ({self.role})"


class AuditEvent(WorkspaceOwned):
    """Who did what, when, from where. Append-only; later features write here too."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=200)
    verb = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="audit_ws_recent")]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.verb} {self.target_repr}"
