"""The one door into workspace pages: `@workspace_view(...)` resolves /w/<slug>/, returns
404 for anyone with no access (the same page as for a missing workspace) and 403 for a
member whose role is too low for the request; `can_edit(request)` and its kin say what
the member's role lets a page offer."""

from __future__ import annotations

import functools
from collections.abc import Callable

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
            # Set before any refusal: a member's 403 page keeps the workspace's navigation.
            request.workspace = workspace
            request.workspace_role = role
            required = read_role if request.method in SAFE_METHODS else write_role
            if not at_least(role, required):
                raise PermissionDenied(
                    f"This needs the {WorkspaceRole(required).label.lower()} role or higher in {workspace.name}."
                )
            if workspace.archived_at is not None and request.method not in SAFE_METHODS:
                raise PermissionDenied(f"{workspace.name} is archived: it is read-only until it is restored.")
            response = view(request, workspace_slug, *args, **kwargs)
            _remember(request, response, workspace)
            return response

        wrapper.workspace_roles = (read_role, write_role)  # read by the isolation harness
        return wrapper

    return decorator


LAST_WORKSPACE_COOKIE = "last_workspace"


def _remember(request, response, workspace) -> None:
    """The workspace a person last opened, kept in a cookie of their browser (login lands
    there; the home page checks it is still in reach): no write to the database."""
    if (request.method == "GET" and response.status_code == 200
            and request.COOKIES.get(LAST_WORKSPACE_COOKIE) != workspace.slug):
        response.set_cookie(LAST_WORKSPACE_COOKIE, workspace.slug, max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=request.is_secure())


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
