"""The one door into workspace pages: `@workspace_view(...)` resolves /w/<slug>/, returns
404 for anyone with no access (the same page as for a missing workspace) and 403 for a
member whose role is too low for the request; `can_edit(request)` and its kin say what
the member's role lets a page offer."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from .access import access_workspace
from .roles import WorkspaceRole, at_least

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def workspace_view(read_role: str = WorkspaceRole.VIEWER, write_role: str = WorkspaceRole.MARKETER) -> Callable:
    """Decorate a function view taking (request, workspace_slug, ...). The view receives
    request.workspace and request.workspace_role."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request, workspace_slug: str, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            workspace, role = access_workspace(request.user, workspace_slug)
            required = read_role if request.method in SAFE_METHODS else write_role
            if not at_least(role, required):
                raise PermissionDenied(
                    f"This needs the {WorkspaceRole(required).label.lower()} role or higher in {workspace.name}."
                )
            if workspace.archived_at is not None and request.method not in SAFE_METHODS:
                raise PermissionDenied(f"{workspace.name} is archived: it is read-only until it is restored.")
            request.workspace = workspace
            request.workspace_role = role
            _remember(request.user, workspace)
            return view(request, workspace_slug, *args, **kwargs)

        wrapper.workspace_roles = (read_role, write_role)  # read by the isolation harness
        return wrapper

    return decorator


def _remember(user, workspace) -> None:
    """Keep the workspace a person last opened (login lands there): one UPDATE, only when
    it changes; API keys have no user row to keep it on."""
    if getattr(user, "api_key", None) is None and getattr(user, "last_workspace_id", None) != workspace.pk:
        get_user_model().objects.filter(pk=user.pk).update(last_workspace=workspace)
        user.last_workspace_id = workspace.pk


# What a page offers depends on the role of the member behind a `@workspace_view` request
# (edit buttons for a marketer, publish and start for an approver, settings for an admin).

def has_role(request, role: str) -> bool:
    """Whether the request's member holds `role` or a role above it."""
    return at_least(request.workspace_role, role)


def can_edit(request) -> bool:
    return has_role(request, WorkspaceRole.MARKETER)


def can_approve(request) -> bool:
    return has_role(request, WorkspaceRole.APPROVER)


def is_admin(request) -> bool:
    return has_role(request, WorkspaceRole.ADMIN)
