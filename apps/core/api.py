"""The base of every workspace API: one mixin resolves the workspace from the URL,
checks the caller's role, and scopes every query to that workspace.

A viewset must not override get_queryset (the class refuses to be defined): it sets
`queryset` to the unscoped base and may refine it in `scope_queryset(qs)`. A view that
really must bypass the scoping names a `dangerously_get_queryset` method instead, so the
bypass is visible in review (PostHog's routing mixin does the same)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import models
from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler as drf_exception_handler

from apps.tenants.access import access_workspace
from apps.tenants.roles import WorkspaceRole, at_least

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: largest value of a PostgreSQL bigint: ids, offsets and counts never go past it
BIGINT_MAX = 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def bounded_int(raw: str, *, name: str, minimum: int, maximum: int) -> int:
    """A query parameter as an int in [minimum, maximum], else a 400 naming it."""
    message = f"must be a whole number from {minimum} to {maximum}."
    # int() would also take "1_000", "٣" and 4,300 digits: a bounded pattern first
    if not _INTEGER.fullmatch(raw):
        raise exceptions.ValidationError({name: [message]})
    value = int(raw)
    if not minimum <= value <= maximum:
        raise exceptions.ValidationError({name: [message]})
    return value


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """limit/offset pagination that refuses what DRF lets through: a limit above
    `max_limit` (one answer of a million rows) or past a bigint, a negative or huge
    offset, or junk (silently read as the default before) are each a 400 naming the
    parameter. The bounds are in the OpenAPI schema too."""

    max_limit = 500
    max_offset = BIGINT_MAX

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None or raw == "":
            return self.default_limit
        return bounded_int(raw, name=self.limit_query_param, minimum=1, maximum=self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        if raw is None or raw == "":
            return 0
        return bounded_int(raw, name=self.offset_query_param, minimum=0, maximum=self.max_offset)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
                  self.offset_query_param: {"minimum": 0, "maximum": self.max_offset}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


def exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's handler, plus Django ValidationError as a 400 with field messages. An error
    that lists `problems` (a rule's RuleError: [{"path", "message"}, ...]) is a 400
    {"problems": [...]}, so every endpoint taking a rule answers alike."""
    from django.core.exceptions import ValidationError  # noqa: PLC0415

    problems = getattr(exc, "problems", None)
    if isinstance(exc, Http404):
        # one answer for every missing thing: get_object_or_404's "No ApiKey matches the
        # given query." names the model and differs from the scoping mixin's 404
        exc = exceptions.NotFound()
    elif isinstance(exc, ValidationError) and isinstance(problems, list):
        exc = exceptions.ValidationError({"problems": problems})
    elif isinstance(exc, ValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)


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


def client_ip(request) -> str | None:
    from apps.core.net import client_ip as _client_ip  # noqa: PLC0415

    return _client_ip(request)


__all__ = ["WorkspaceScopedMixin", "BoundedLimitOffsetPagination", "bounded_int", "BIGINT_MAX", "exception_handler", "client_ip", "DjangoPermissionDenied"]
