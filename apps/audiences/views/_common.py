"""Bits the audience screens share."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from apps.tenants.roles import WorkspaceRole, at_least

from ..models import Audience

MARKETER = WorkspaceRole.MARKETER
VIEWER = WorkspaceRole.VIEWER


def can_edit(request) -> bool:
    return at_least(request.workspace_role, MARKETER)


def detail_url(audience: Audience) -> str:
    return reverse("aud-detail", kwargs={"workspace_slug": audience.workspace.slug, "pk": audience.pk})


def go(request, url: str) -> HttpResponse:
    """Where a finished action leads: htmx follows HX-Redirect (flash messages survive),
    a plain form a 302."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def add_errors(form: Form, exc: ValidationError) -> None:
    """A service's ValidationError onto a form: per field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def list_definition(audience: Audience) -> dict:
    """What a saved audience is, as a definition the preview endpoints evaluate: a rule's
    own definition, or 'the records in this list'."""
    if audience.is_list:
        return {"entity": audience.entity.key, "rule": {"in_audience": audience.pk}}
    return audience.definition


def default_attribute(attributes) -> str | None:
    """The attribute whose top values are offered first: a category, not the key."""
    for wanted in (("enum",), ("text",), ("integer", "decimal", "date", "datetime", "boolean", "email", "phone")):
        for attribute in attributes:
            if attribute.type in wanted and not attribute.is_primary_key:
                return attribute.key
    return attributes[0].key if attributes else None
