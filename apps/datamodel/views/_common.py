"""Bits the data screens share."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import render

from apps.tenants.roles import WorkspaceRole, at_least

MARKETER = WorkspaceRole.MARKETER


def can_edit(request) -> bool:
    return at_least(request.workspace_role, MARKETER)


def htmx_target(request) -> str | None:
    return request.htmx.target if request.htmx else None


def render_region(request, template: str, context: dict, regions: Iterable[str], *, status: int = 200,
                  trigger: str | None = None) -> HttpResponse:
    """The whole page; for an htmx request aimed at one of `regions` (by the target's id),
    only that partial. `trigger` is sent as HX-Trigger so other regions refresh."""
    target = htmx_target(request)
    name = f"{template}#{target}" if target in set(regions) else template
    response = render(request, name, context, status=status if request.htmx else 200)
    if trigger:
        response["HX-Trigger"] = trigger
    return response


def add_errors(form: Form, exc: ValidationError) -> None:
    """A service's ValidationError onto a form: per field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
