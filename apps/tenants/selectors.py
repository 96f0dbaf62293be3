"""Reads for workspaces, members and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from guardian.models import UserObjectPermission

from .models import (
    ApiKey,
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    OrganizationRole,
    Workspace,
)
from .roles import ALL_PERMISSIONS, WorkspaceRole, role_from_permissions

User = get_user_model()


def _workspace_ct() -> ContentType:
    return ContentType.objects.get_for_model(Workspace)


def workspaces_for_user(user: Any) -> QuerySet[Workspace]:
    """Every workspace the user reaches: all of the agencies they own/administer, plus
    those where they hold a workspace role."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Workspace.objects.none()
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return Workspace.objects.filter(pk=api_key.workspace_id).select_related("organization")
    admin_orgs = Membership.objects.filter(
        user=user, role__in=[OrganizationRole.OWNER, OrganizationRole.ADMIN]
    ).values("organization_id")
    granted = UserObjectPermission.objects.filter(
        user=user, content_type=_workspace_ct(), permission__codename__in=ALL_PERMISSIONS
    ).values_list("object_pk", flat=True)
    ids = [int(pk) for pk in granted]
    return (
        Workspace.objects.filter(Q(organization_id__in=admin_orgs) | Q(pk__in=ids))
        .select_related("organization")
        .order_by("organization__name", "name")
        .distinct()
    )


def workspaces_grouped(user: Any) -> list[tuple[Any, list[Workspace]]]:
    return [(org, list(items)) for org, items in groupby(workspaces_for_user(user), key=lambda w: w.organization)]


@dataclass(frozen=True)
class Member:
    user: Any
    role: str
    via_organization: bool  # reaches the workspace as an agency owner/admin

    @property
    def role_label(self) -> str:
        return WorkspaceRole(self.role).label


def workspace_members(*, workspace: Workspace) -> list[Member]:
    """People who reach the workspace, with their effective role (3 queries)."""
    org_admins = {
        m.user_id: m.user
        for m in Membership.objects.filter(
            organization_id=workspace.organization_id,
            role__in=[OrganizationRole.OWNER, OrganizationRole.ADMIN],
        ).select_related("user")
    }
    perms: dict[int, set[str]] = {}
    for user_id, codename in UserObjectPermission.objects.filter(
        content_type=_workspace_ct(), object_pk=str(workspace.pk), permission__codename__in=ALL_PERMISSIONS
    ).values_list("user_id", "permission__codename"):
        perms.setdefault(user_id, set()).add(codename)
    users = {u.pk: u for u in User.objects.filter(pk__in=set(perms) - set(org_admins))}
    members = [Member(user=u, role=str(WorkspaceRole.ADMIN), via_organization=True) for u in org_admins.values()]
    for user_id, codenames in perms.items():
        if user_id in org_admins or user_id not in users:
            continue
        role = role_from_permissions(codenames)
        if role:
            members.append(Member(user=users[user_id], role=role, via_organization=False))
    return sorted(members, key=lambda m: (not m.via_organization, m.user.email))


def member_role(*, workspace: Workspace, user: Any) -> str | None:
    """The role held directly on the workspace (guardian permissions), ignoring agency reach."""
    codenames = set(
        UserObjectPermission.objects.filter(
            user=user, content_type=_workspace_ct(), object_pk=str(workspace.pk),
            permission__codename__in=ALL_PERMISSIONS,
        ).values_list("permission__codename", flat=True)
    )
    return role_from_permissions(codenames)


def access_member(actor: Any, workspace: Workspace, user_id: Any) -> Any:
    """A user who holds a direct role in the workspace; 404 otherwise (also for users of
    other workspaces, so ids can't be probed)."""
    try:
        user = User.objects.get(pk=int(user_id))
    except (User.DoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None
    if member_role(workspace=workspace, user=user) is None:
        raise Http404("Not found.")
    return user


def open_invitations(*, workspace: Workspace) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        workspace=workspace, accepted_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def api_key_list(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(workspace=workspace).select_related("created_by")


def audit_recent(*, workspace: Workspace, limit: int = 20) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(workspace=workspace).select_related("actor")[:limit]


def organizations_for_user(user: Any) -> list[tuple[Organization, str]]:
    """The agencies the user belongs to, with their role in each, by name."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "api_key", None) is not None:
        return []
    return [(m.organization, m.role) for m in
            Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")]


def organization_workspaces(*, organization: Organization, user: Any, role: str, query: str = "",
                            archived: bool | None = None) -> list[Workspace]:
    """The agency's workspaces this member sees (owners and admins: all of them), by name,
    filtered by a search on name or slug."""
    workspaces = Workspace.objects.filter(organization=organization).select_related("organization")
    if role not in (OrganizationRole.OWNER, OrganizationRole.ADMIN):
        workspaces = workspaces.filter(pk__in=workspaces_for_user(user).values("pk"))
    if query:
        workspaces = workspaces.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    if archived is not None:
        workspaces = workspaces.filter(archived_at__isnull=not archived)
    return list(workspaces.order_by("name"))
