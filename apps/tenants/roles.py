"""Workspace roles. They are ordered: each role can do what the ones before it can.
A role is stored as django-guardian object permissions on the Workspace."""

from django.db import models


class WorkspaceRole(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MARKETER = "marketer", "Marketer"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Workspace admin"


RANK = {
    WorkspaceRole.VIEWER: 1,
    WorkspaceRole.MARKETER: 2,
    WorkspaceRole.APPROVER: 3,
    WorkspaceRole.ADMIN: 4,
}

# One permission per capability; a role holds its own and those of the roles below it.
PERM_VIEW = "view_workspace_content"
PERM_EDIT = "edit_workspace_content"
PERM_PUBLISH = "publish_workspace_content"
PERM_ADMIN = "administer_workspace"

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    WorkspaceRole.VIEWER: (PERM_VIEW,),
    WorkspaceRole.MARKETER: (PERM_VIEW, PERM_EDIT),
    WorkspaceRole.APPROVER: (PERM_VIEW, PERM_EDIT, PERM_PUBLISH),
    WorkspaceRole.ADMIN: (PERM_VIEW, PERM_EDIT, PERM_PUBLISH, PERM_ADMIN),
}
ALL_PERMISSIONS = ROLE_PERMISSIONS[WorkspaceRole.ADMIN]


def role_from_permissions(codenames: set[str]) -> str | None:
    for role in (WorkspaceRole.ADMIN, WorkspaceRole.APPROVER, WorkspaceRole.MARKETER,
                 WorkspaceRole.VIEWER):
        if ROLE_PERMISSIONS[role][-1] in codenames:
            return str(role)
    return None


def at_least(role: str | None, required: str) -> bool:
    return role is not None and RANK[WorkspaceRole(role)] >= RANK[WorkspaceRole(required)]
