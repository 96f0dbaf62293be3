"""What the HTMX screens of every app share: where a finished action leads, which part of
a page an htmx request gets, and a service's ValidationError shown on a form.

`request.htmx` comes from django-htmx's middleware. A page template names its swappable
regions as partials (`"page.html#region"`), the partial's name matching its `hx-target` id.
Role checks, which need the workspace roles, are in `apps.tenants.decorators`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect


def go(request, url: str) -> HttpResponse:
    """Where a finished action leads: htmx follows HX-Redirect (204, flash messages
    survive), a plain form a 302."""
    if request.htmx:
        return HttpResponseClientRedirect(url, status=204)
    return redirect(url)


def htmx_target(request) -> str | None:
    """The id of the element an htmx request swaps (None for a plain request)."""
    return request.htmx.target if request.htmx else None


def partial_name(request, template: str, partial: str) -> str:
    """The named partial of `template` for an htmx request, the whole page otherwise."""
    return f"{template}#{partial}" if request.htmx else template


def _rendered(request, name: str, context: dict[str, Any], status: int, trigger: str | None) -> HttpResponse:
    # A plain form gets the whole page with 200 (errors show on it); only htmx reads the status.
    response = render(request, name, context, status=status if request.htmx else 200)
    if trigger:
        response["HX-Trigger"] = trigger  # an event name: lists refresh on "<name> from:body"
    return response


def render_partial(request, template: str, partial: str, context: dict[str, Any], *, status: int = 200,
                   trigger: str | None = None) -> HttpResponse:
    """For an htmx request the named partial of `template` with `status`; otherwise the
    whole page (200). `trigger` is sent as HX-Trigger so other regions refresh."""
    return _rendered(request, partial_name(request, template, partial), context, status, trigger)


def render_region(request, template: str, context: dict[str, Any], regions: Iterable[str], *, status: int = 200,
                  trigger: str | None = None) -> HttpResponse:
    """The whole page; for an htmx request aimed at one of `regions` (by the target's id),
    only that partial. `trigger` is sent as HX-Trigger so other regions refresh."""
    target = htmx_target(request)
    name = f"{template}#{target}" if target in set(regions) else template
    return _rendered(request, name, context, status, trigger)


def add_errors(form: Form, exc: ValidationError, *, fields: Mapping[str, str] | None = None) -> None:
    """A service's ValidationError onto a form: per field where it names one of the form's
    (`fields` maps a service's name to the form's where they differ), else on the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.message_dict.items():
        name = (fields or {}).get(field, field)
        form.add_error(name if name in form.fields else None, errors)
