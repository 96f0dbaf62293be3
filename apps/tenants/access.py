"""Access to workspaces and their objects. Every fetch by id goes through here and filters
by workspace inside the query; a missing object and a forbidden one raise the same 404.
A member whose role is too low gets 403 (PermissionDenied)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from guardian.models import UserObjectPermission

from .models import ApiKey, Invitation, Membership, Organization, OrganizationRole, Workspace
from .roles import ALL_PERMISSIONS, WorkspaceRole, at_least, role_from_permissions

M = TypeVar("M", bound=models.Model)

NOT_FOUND = "Not found."


def _api_key_of(actor: Any) -> ApiKey | None:
    return getattr(actor, "api_key", None)


def workspace_role(actor: Any, workspace: Workspace) -> str | None:
    """The actor's effective role in the workspace, or None when it has no access."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    api_key = _api_key_of(actor)
    if api_key is not None:
        return api_key.role if api_key.workspace_id == workspace.pk else None
    if not actor.is_active:
        return None
    org_role = (
        Membership.objects.filter(organization_id=workspace.organization_id, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    if org_role in (OrganizationRole.OWNER, OrganizationRole.ADMIN):
        return str(WorkspaceRole.ADMIN)
    codenames = set(
        UserObjectPermission.objects.filter(
            user=actor,
            content_type=ContentType.objects.get_for_model(Workspace),
            object_pk=str(workspace.pk),
            permission__codename__in=ALL_PERMISSIONS,
        ).values_list("permission__codename", flat=True)
    )
    return role_from_permissions(codenames)


def access_workspace(actor: Any, slug: str, *, role: str = WorkspaceRole.VIEWER) -> tuple[Workspace, str]:
    """Return (workspace, actor's role). 404 if it does not exist or the actor has no
    access at all; 403 if the actor's role is below `role`."""
    workspace = Workspace.objects.select_related("organization").filter(slug=slug).first()
    if workspace is None:
        raise Http404(NOT_FOUND)
    actual = workspace_role(actor, workspace)
    if actual is None:
        raise Http404(NOT_FOUND)
    if not at_least(actual, role):
        raise PermissionDenied(f"This needs the {WorkspaceRole(role).label.lower()} role or higher.")
    return workspace, actual


def access_object(queryset: models.QuerySet[M], workspace: Workspace, pk: Any) -> M:
    """Fetch one tenant-owned row by id, filtered by workspace in the query."""
    try:
        return queryset.get(workspace=workspace, pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(NOT_FOUND) from None


def access_api_key(actor: Any, workspace: Workspace, pk: Any) -> ApiKey:
    return access_object(ApiKey.objects.all(), workspace, pk)


def access_invitation(actor: Any, workspace: Workspace, pk: Any) -> Invitation:
    return access_object(Invitation.objects.all(), workspace, pk)


def require_role(actual: str, required: str) -> None:
    if not at_least(actual, required):
        raise PermissionDenied(f"This needs the {WorkspaceRole(required).label.lower()} role or higher.")


def access_organization(actor: Any, slug: str, *, manage: bool = False) -> tuple[Organization, str]:
    """Return (organization, the actor's role in it). 404 for anyone who is not a member
    (the same as for a missing agency); 403 when `manage` and the member is not an owner
    or admin (who create, rename, archive and restore its workspaces)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or _api_key_of(actor) is not None:
        raise Http404(NOT_FOUND)
    if not actor.is_active:
        raise Http404(NOT_FOUND)
    membership = Membership.objects.select_related("organization").filter(organization__slug=slug, user=actor).first()
    if membership is not None:
        organization, role = membership.organization, membership.role
    else:
        # Someone with a role in one of the agency's workspaces sees those, as a member.
        organization = Organization.objects.filter(slug=slug).first()
        granted = organization is not None and UserObjectPermission.objects.filter(
            user=actor, content_type=ContentType.objects.get_for_model(Workspace),
            object_pk__in=[str(pk) for pk in organization.workspaces.values_list("pk", flat=True)],
            permission__codename__in=ALL_PERMISSIONS).exists()
        if not granted:
            raise Http404(NOT_FOUND)
        role = str(OrganizationRole.MEMBER)
    if manage and role not in (OrganizationRole.OWNER, OrganizationRole.ADMIN):
        raise PermissionDenied(f"Managing {organization.name}'s workspaces needs an agency owner or admin.")
    return organization, role


def access_org_workspace(organization: Organization, slug: Any) -> Workspace:
    """One of the agency's workspaces by slug; another agency's is a 404 like a missing one."""
    workspace = Workspace.objects.filter(organization=organization, slug=str(slug)).first()
    if workspace is None:
        raise Http404(NOT_FOUND)
    return workspace
