"""The base of every workspace API: one mixin resolves the workspace from the URL,
checks the caller's role, and scopes every query to that workspace.

A viewset must not override get_queryset (the class refuses to be defined): it sets
`queryset` to the unscoped base and may refine it in `scope_queryset(qs)`. A view that
really must bypass the scoping names a `dangerously_get_queryset` method instead, so the
bypass is visible in review (PostHog's routing mixin does the same)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.http import Http404
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from apps.core.api.base import SAFE_METHODS

from ..access import access_workspace
from ..roles import WorkspaceRole, at_least


class WorkspaceScopedMixin:
    """Mix into every view under /api/v1/workspaces/<workspace_slug>/."""

    #: lowest role for safe methods and for everything else; `action_roles` overrides per action
    #: a router's detail routes take integer ids only: "AAA" is a 404 from the URL resolver,
    #: not a ValueError in a lookup (a viewset keyed by something else overrides this)
    lookup_value_regex = r"[0-9]{1,19}"

    read_role: str = WorkspaceRole.VIEWER
    write_role: str = WorkspaceRole.MARKETER
    action_roles: dict[str, str] = {}

    workspace: Any
    workspace_role: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise ImproperlyConfigured(
                f"{cls.__name__} overrides get_queryset(); workspace scoping would be lost. "
                "Override scope_queryset(qs) to refine, or name dangerously_get_queryset() to bypass."
            )

    def required_role(self, request) -> str:
        action = getattr(self, "action", None)
        if action and action in self.action_roles:
            return self.action_roles[action]
        return self.read_role if request.method in SAFE_METHODS else self.write_role

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication first: 401 before 404
        try:
            self.workspace, self.workspace_role = access_workspace(request.user, kwargs["workspace_slug"])
        except Http404:
            raise exceptions.NotFound() from None
        required = self.required_role(request)
        if not at_least(self.workspace_role, required):
            raise exceptions.PermissionDenied(
                f"This needs the {WorkspaceRole(required).label.lower()} role or higher in this workspace."
            )
        if self.workspace.archived_at is not None and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied("This workspace is archived: it is read-only until it is restored.")

    def handle_exception(self, exc: Exception):
        response = super().handle_exception(exc)  # type: ignore[misc]
        # An error is JSON whatever the client asked for (a CSV export's 404 too): the
        # schema's Error body, not a 404 "rendered" by the CSV renderer.
        if not isinstance(getattr(self.request, "accepted_renderer", None), JSONRenderer):
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return response

    def scope_queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        return queryset

    def get_queryset(self) -> models.QuerySet:
        bypass = getattr(self, "dangerously_get_queryset", None)
        if bypass is not None:
            return bypass()
        base = getattr(self, "queryset", None)
        if base is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs a queryset")
        return self.scope_queryset(base.all().filter(workspace=self.workspace))

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        context["workspace"] = getattr(self, "workspace", None)
        return context
