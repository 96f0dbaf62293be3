"""The workspace policy page of the Consent section, and the rotation of the inbound SMS
URL's secret shown on it (workspace admins)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.core.htmx import add_errors
from apps.tenants.decorators import is_admin, workspace_view

from .. import configuration, inbound, selectors
from .manage import ADMIN, VIEWER, PolicyForm, _context

# --- the workspace policy ---

@workspace_view(read_role=VIEWER, write_role=ADMIN)
def policy(request, workspace_slug):
    form = PolicyForm(request.POST or None, initial=selectors.policy_settings(workspace=request.workspace))
    if request.method == "POST" and form.is_valid():
        try:
            configuration.policy_update(workspace=request.workspace, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Policy saved.")
            return redirect("consent-policy", workspace_slug=workspace_slug)
    return _policy_page(request, form, RotateForm(), status=422 if form.errors else 200)


def _policy_page(request, form, rotate_form, status: int):
    inbound_url = ""
    if is_admin(request):
        inbound_url = request.build_absolute_uri(reverse("consent-inbound-sms", kwargs={
            "workspace_slug": request.workspace.slug, "secret": inbound.current_secret(request.workspace)}))
    until = selectors.policy(workspace=request.workspace).inbound_sms_previous_valid_until
    return render(request, "consent/manage_policy.html", _context(
        request, form=form, inbound_url=inbound_url, rotate_form=rotate_form,
        previous_valid_until=until if until and until > timezone.now() else None), status=status)


class RotateForm(forms.Form):
    grace_minutes = forms.IntegerField(
        min_value=0, max_value=24 * 60, initial=0, label="Keep the current URL working for (minutes)",
        help_text="0 refuses it at once; up to 1440 (a day) while the provider's settings are updated.")


@workspace_view(read_role=ADMIN, write_role=ADMIN)
@require_POST
def inbound_sms_rotate(request, workspace_slug):
    form = RotateForm(request.POST)
    if not form.is_valid():
        policy_form = PolicyForm(initial=selectors.policy_settings(workspace=request.workspace))
        return _policy_page(request, policy_form, form, status=422)
    configuration.inbound_sms_secret_rotate(workspace=request.workspace, actor=request.user,
                                            grace_minutes=form.cleaned_data["grace_minutes"])
    messages.success(request, "The inbound SMS URL has a new secret: give the new URL to your SMS provider.")
    return redirect(reverse("consent-policy", kwargs={"workspace_slug": workspace_slug}) + "#inbound-sms")
