"""Writes for organizations, workspaces, members, invitations, API keys and the audit log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from . import branding
from .authentication import KEY_PREFIX, hash_key
from .models import (
    ApiKey,
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    OrganizationRole,
    Workspace,
)
from .roles import ALL_PERMISSIONS, ROLE_PERMISSIONS, WorkspaceRole

User = get_user_model()

INVITATION_LIFETIME = timedelta(days=7)


# --- audit --------------------------------------------------------------------------------

def _actor_fields(actor: Any) -> dict[str, Any]:
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return {"actor": None, "api_key": api_key, "actor_label": str(actor)}
    if actor is not None and getattr(actor, "is_authenticated", False):
        return {"actor": actor, "api_key": None, "actor_label": actor.email}
    return {"actor": None, "api_key": None, "actor_label": "system"}


def audit_record(*, workspace: Workspace, actor: Any, verb: str, target: Any = None,
                 data: dict | None = None, ip_address: str | None = None) -> AuditEvent:
    """Append an event to the workspace's audit log."""
    fields = _actor_fields(actor)
    return AuditEvent.objects.create(
        workspace=workspace,
        verb=verb,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:300] if target is not None else "",
        data=data or {},
        ip_address=ip_address,
        **fields,
    )


# --- users --------------------------------------------------------------------------------

def user_create(*, email: str, password: str, first_name: str = "", last_name: str = "",
                superuser: bool = False) -> Any:
    """A person who logs in (a platform superuser with `superuser`). Not audited: the audit
    log is a workspace's, and a user belongs to none until given a role (member_set_role
    records that)."""
    create = User.objects.create_superuser if superuser else User.objects.create_user
    return create(email=email, password=password, first_name=first_name, last_name=last_name)


# --- organizations and workspaces ----------------------------------------------------------

def organization_create(*, name: str, slug: str, owner: Any | None = None) -> Organization:
    org = Organization(name=name, slug=slug)
    org.full_clean()
    org.save()
    if owner is not None:
        Membership.objects.create(organization=org, user=owner, role=OrganizationRole.OWNER)
    return org


def organization_member_add(*, organization: Organization, user: Any,
                            role: str = OrganizationRole.MEMBER) -> Membership:
    """Put a user in an agency with an agency role. Someone already in it keeps the role
    they have: changing it is a decision of its own, not a side effect of adding. Not
    audited, like organization_create: the audit log is a workspace's, not an agency's."""
    membership, _ = Membership.objects.get_or_create(organization=organization, user=user,
                                                     defaults={"role": OrganizationRole(role)})
    return membership


def workspace_create(*, organization: Organization, actor: Any, name: str, slug: str,
                     time_zone: str = "UTC", default_language: str = "en",
                     sender_name: str = "", sender_email: str = "", reply_to_email: str = "",
                     brand_color: str = "", public_url: str = "") -> Workspace:
    """Create a client workspace in an agency, with the client's defaults."""
    workspace = Workspace(
        organization=organization, name=name, slug=slug, time_zone=time_zone,
        default_language=default_language, sender_name=sender_name,
        sender_email=sender_email, reply_to_email=reply_to_email, brand_color=brand_color,
        public_url=public_url.rstrip("/"),
    )
    workspace.full_clean()
    workspace.save()
    audit_record(workspace=workspace, actor=actor, verb="workspace.created", target=workspace)
    return workspace


WORKSPACE_SETTINGS = ("name", "time_zone", "default_language", "sender_name", "sender_email", "reply_to_email",
                      "brand_color", "public_url")


def workspace_update(*, workspace: Workspace, actor: Any, ip_address: str | None = None,
                     **changes: Any) -> Workspace:
    """Change a workspace's settings; the audit event keeps old and new values."""
    unknown = set(changes) - set(WORKSPACE_SETTINGS)
    if unknown:
        raise ValidationError(f"Unknown workspace settings: {', '.join(sorted(unknown))}")
    diff = {}
    for field, value in changes.items():
        old = getattr(workspace, field)
        if old != value:
            diff[field] = {"old": old, "new": value}
            setattr(workspace, field, value)
    if diff:
        workspace.full_clean()
        workspace.save(update_fields=list(diff))
        audit_record(workspace=workspace, actor=actor, verb="workspace.updated", target=workspace,
                     data=diff, ip_address=ip_address)
    return workspace


def brand_logo_set(*, owner: Workspace | Organization, actor: Any, upload: Any | None,
                   ip_address: str | None = None) -> None:
    """A workspace's or an agency's logo: an upload (checked and redrawn as PNG by
    tenants.branding), or None to remove it. The old file goes."""
    old = owner.brand_logo.name if owner.brand_logo else ""
    if upload is not None:
        cleaned = branding.clean_logo(upload)
        owner.brand_logo.save(f"{owner.slug}.png", cleaned, save=False)
    else:
        owner.brand_logo = ""
    owner.save(update_fields=["brand_logo"])
    if old and old != owner.brand_logo.name:
        owner.brand_logo.storage.delete(old)
    workspace = owner if isinstance(owner, Workspace) else None
    if workspace is not None:
        audit_record(workspace=workspace, actor=actor, verb="workspace.logo_changed" if upload else
                     "workspace.logo_removed", target=workspace, ip_address=ip_address)


# --- members and roles -------------------------------------------------------------------------

def _grant_role(user: Any, workspace: Workspace, role: str) -> None:
    wanted = set(ROLE_PERMISSIONS[WorkspaceRole(role)])
    for codename in ALL_PERMISSIONS:
        if codename in wanted:
            assign_perm(f"tenants.{codename}", user, workspace)
        else:
            remove_perm(f"tenants.{codename}", user, workspace)


def member_set_role(*, workspace: Workspace, actor: Any, user: Any, role: str,
                    ip_address: str | None = None) -> None:
    """Give a user a workspace role (adding them to the agency as a member if needed)."""
    role = WorkspaceRole(role)
    with transaction.atomic():
        Membership.objects.get_or_create(
            organization=workspace.organization, user=user, defaults={"role": OrganizationRole.MEMBER}
        )
        from .selectors import member_role  # noqa: PLC0415 - avoid an import cycle

        old = member_role(workspace=workspace, user=user)
        _grant_role(user, workspace, role)
        audit_record(workspace=workspace, actor=actor, verb="member.role_changed" if old else "member.added",
                     target=user, data={"old": old, "new": str(role)}, ip_address=ip_address)


def member_remove(*, workspace: Workspace, actor: Any, user: Any, ip_address: str | None = None) -> None:
    """Take every workspace role away from a user. Agency owners/admins keep their reach
    through the agency; that is changed on the agency, not here."""
    with transaction.atomic():
        for codename in ALL_PERMISSIONS:
            remove_perm(f"tenants.{codename}", user, workspace)
        audit_record(workspace=workspace, actor=actor, verb="member.removed", target=user, ip_address=ip_address)


def member_add_by_email(*, workspace: Workspace, actor: Any, email: str, role: str,
                        ip_address: str | None = None) -> tuple[str, Any]:
    """Add an existing user, or invite the address by email. Returns ("added", user) or
    ("invited", invitation)."""
    email = email.strip().lower()
    WorkspaceRole(role)
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        member_set_role(workspace=workspace, actor=actor, user=user, role=role, ip_address=ip_address)
        return "added", user
    return "invited", invitation_create(workspace=workspace, actor=actor, email=email, role=role,
                                        ip_address=ip_address)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(*, workspace: Workspace, actor: Any, email: str, role: str,
                      ip_address: str | None = None) -> Invitation:
    """Invite an address; the email carries a one-time link valid for 7 days."""
    if Invitation.objects.filter(workspace=workspace, email__iexact=email, accepted_at__isnull=True,
                                 cancelled_at__isnull=True, expires_at__gt=timezone.now()).exists():
        raise ValidationError(f"{email} already has an open invitation to this workspace.")
    # An expired open invitation would block the unique constraint: close it first.
    Invitation.objects.filter(workspace=workspace, email__iexact=email, accepted_at__isnull=True,
                              cancelled_at__isnull=True).update(cancelled_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace, email=email, role=role, token_hash=_token_hash(token),
        invited_by=actor if getattr(actor, "pk", None) else None,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    audit_record(workspace=workspace, actor=actor, verb="member.invited", target=invitation,
                 data={"email": email, "role": role}, ip_address=ip_address)
    link = settings.SITE_URL.rstrip("/") + reverse("invitation-accept", kwargs={"token": token})
    inviter = getattr(actor, "display_name", "Someone")
    transaction.on_commit(lambda: send_mail(
        subject=f"You are invited to {workspace.name} on Orchestrate",
        message=(f"{inviter} invited you to the workspace {workspace.name} "
                 f"({workspace.organization.name}) as {WorkspaceRole(role).label}.\n\n"
                 f"Accept within 7 days: {link}\n"),
        from_email=None,
        recipient_list=[email],
    ))
    return invitation


def invitation_cancel(*, workspace: Workspace, actor: Any, invitation: Invitation,
                      ip_address: str | None = None) -> None:
    if invitation.accepted_at or invitation.cancelled_at:
        return
    invitation.cancelled_at = timezone.now()
    invitation.save(update_fields=["cancelled_at"])
    audit_record(workspace=workspace, actor=actor, verb="member.invitation_cancelled", target=invitation,
                 ip_address=ip_address)


def invitation_find(*, token: str) -> Invitation | None:
    """An open, unexpired invitation for this token, or None."""
    return (
        Invitation.objects.select_related("workspace", "workspace__organization")
        .filter(token_hash=_token_hash(token), accepted_at__isnull=True, cancelled_at__isnull=True,
                expires_at__gt=timezone.now())
        .first()
    )


def invitation_accept(*, invitation: Invitation, first_name: str, last_name: str, password: str) -> Any:
    """Create the invitee's account and grant the role."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at or locked.cancelled_at:
            raise ValidationError("This invitation has already been used.")
        if User.objects.filter(email__iexact=locked.email).exists():
            raise ValidationError(f"{locked.email} already has an account: log in to accept the invitation.")
        user = User.objects.create_user(email=locked.email, password=password,
                                        first_name=first_name, last_name=last_name)
        return _invitation_complete(locked, user)


def invitation_accept_existing(*, invitation: Invitation, user: Any) -> Any:
    """The invitee already has an account and is logged in as it."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at or locked.cancelled_at:
            raise ValidationError("This invitation has already been used.")
        if user.email.lower() != locked.email.lower():
            raise ValidationError("This invitation is for another address.")
        return _invitation_complete(locked, user)


def _invitation_complete(locked: Invitation, user: Any) -> Any:
    locked.accepted_at = timezone.now()
    locked.accepted_by = user
    locked.save(update_fields=["accepted_at", "accepted_by"])
    member_set_role(workspace=locked.workspace, actor=user, user=user, role=locked.role)
    return user


# --- API keys ---------------------------------------------------------------------------------

def api_key_create(*, workspace: Workspace, actor: Any, name: str, role: str = WorkspaceRole.MARKETER,
                   expires_at: datetime | None = None, ip_address: str | None = None) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned once and never stored."""
    WorkspaceRole(role)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the key a name, e.g. the partner or system using it."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if ApiKey.objects.filter(workspace=workspace, name=name, revoked_at__isnull=True).exists():
        raise ValidationError({"name": f"An active key named {name!r} already exists."})
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey.objects.create(
        workspace=workspace, name=name, prefix=prefix, key_hash=hash_key(raw), role=role,
        created_by=actor if getattr(actor, "pk", None) else None, expires_at=expires_at,
    )
    audit_record(workspace=workspace, actor=actor, verb="api_key.created", target=key,
                 data={"role": role, "expires_at": expires_at.isoformat() if expires_at else None},
                 ip_address=ip_address)
    return key, raw


def api_key_revoke(*, workspace: Workspace, actor: Any, api_key: ApiKey, ip_address: str | None = None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(workspace=workspace, actor=actor, verb="api_key.revoked", target=api_key,
                     ip_address=ip_address)
    return api_key
